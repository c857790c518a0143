"""The abuse taxonomy: seed 002 §18's prohibited acts (SPEC §3: "use them as the abuse
taxonomy"), as the codes an "other abuse" complaint's category takes, with how a reporter
reads each. Item 20 ("anything else the provider judges improper") is ``other``, for which the
reporter names the category in their own word (phishing, port scan...)."""

from __future__ import annotations

# (code, Japanese, English), in the order of §18's items 1-20
PROHIBITED_ACTS: tuple[tuple[str, str, str], ...] = (
    (
        "intellectual-property",
        "知的財産権などの権利の侵害",
        "Infringing intellectual property or other rights",
    ),
    (
        "privacy-portrait",
        "財産・プライバシー・肖像権の侵害",
        "Infringing property, privacy or portrait rights",
    ),
    ("harm", "他者に不利益・損害を与える行為", "Causing others disadvantage or damage"),
    ("personal-data-trade", "個人情報の譲渡・譲受", "Selling or buying personal data"),
    ("public-order", "公序良俗に反する行為", "Acts against public order and morals"),
    ("adult-business", "性風俗特殊営業に関する行為", "Adult entertainment business"),
    (
        "obscene-cruel",
        "わいせつ・児童虐待・残虐なコンテンツ",
        "Obscene, child-abuse or cruel content",
    ),
    ("crime", "法令違反・犯罪行為", "Breaking the law, crime"),
    ("false-information", "事実に反する情報の提供", "Giving false information"),
    ("tampering", "他者が入力した情報の改竄", "Tampering with information others entered"),
    ("impersonation", "なりすまし", "Impersonating someone"),
    ("id-misuse", "ID等の不正使用", "Misusing IDs or credentials"),
    ("malware", "コンピューターウイルス等有害なプログラム", "Viruses and other harmful programs"),
    ("service-disruption", "サービスの運営の妨害（攻撃など）", "Disrupting services (attacks)"),
    ("defaming-provider", "当社の信用・名誉を傷つける行為", "Damaging the provider's reputation"),
    ("resale", "本サービスの無断再販売", "Reselling the service"),
    ("bulk-mail", "迷惑メールの大量送信", "Sending unsolicited bulk mail"),
    ("drugs", "薬物・危険ドラッグ・未承認医薬品の広告", "Drugs or unapproved medicine advertising"),
    ("wildlife", "希少野生動植物種の広告", "Advertising rare wild animals or plants"),
    ("other", "その他（具体的にご記入ください）", "Other (please name it)"),
)
CODES: frozenset[str] = frozenset(code for code, _, _ in PROHIBITED_ACTS)
