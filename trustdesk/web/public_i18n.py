"""The public forms' words in Japanese (the default) and English, beside the console's catalog.

Complainants are mostly Japanese (seed 000 is written for them), so the forms are Japanese
unless the visitor switches with the same language cookie as the console (``/lang/en``).
"""

from __future__ import annotations

from collections.abc import Mapping

from trustdesk.intake import taxonomy
from trustdesk.web import i18n

MESSAGES: Mapping[str, tuple[str, str]] = {
    # a member's own C&C blocking page (seed 002 §25-2-3)
    "member.title": ("C&Cサーバー通信遮断の設定", "C&C server blocking"),
    "member.lead": (
        "ボットネットの指令（C&C）サーバーのドメインへの名前解決を、お客様の回線について遮断しています。"
        "お客様のお申し出により、この遮断を停止できます。ほかのサービス内容は変わりません。",
        "We refuse to resolve the domains of botnet command-and-control (C&C) servers for your "
        "line. You may switch this blocking off; nothing else about your service changes.",
    ),
    "member.now": ("現在の設定", "Now"),
    "member.on": ("遮断する（推奨）", "blocking (recommended)"),
    "member.off": ("遮断しない", "not blocking"),
    "member.switch_off": ("遮断を停止する", "Switch blocking off"),
    "member.switch_on": ("遮断を再開する", "Switch blocking on"),
    "member.saved": (
        "設定を変更しました。数分以内に反映されます。",
        "Saved; it takes effect within minutes.",
    ),
    "member.csam": (
        "児童ポルノ掲載アドレスのブロッキングは、この設定にかかわらず行われます。",
        "The blocking of child sexual abuse material applies whatever this setting.",
    ),
    "form.app": ("不正利用・権利侵害の申告窓口", "Abuse and rights-infringement reports"),
    "form.index.lead": (
        "当社のネットワークやお客様のサイトによる被害について、以下のフォームからお申し出ください。",
        "To report harm caused through our network or a customer's site, use one of these forms.",
    ),
    "form.submit": ("送信する", "Submit"),
    "form.required": ("必須", "required"),
    "form.yes": ("はい", "Yes"),
    "form.no": ("いいえ", "No"),
    "form.errors": (
        "入力内容を確認してください。",
        "Please check the fields marked below.",
    ),
    "form.reattach": (
        "添付ファイルは再度選択してください。",
        "Please choose the files to attach again.",
    ),
    "form.contact": ("申告者の連絡先", "Your contact details"),
    "form.name": ("氏名", "Name"),
    "form.address": ("住所", "Postal address"),
    "form.email": ("メールアドレス", "E-mail address"),
    "form.phone": ("電話番号", "Phone number"),
    "form.organisation": ("所属・会社名", "Organisation"),
    "form.files_note": (
        "PDF・PNG・JPEG、1ファイル{limit}まで。",
        "PDF, PNG or JPEG, up to {limit} a file.",
    ),
    # takedown (seed 000)
    "form.takedown.title": ("送信防止措置依頼（掲載内容の削除依頼）", "Takedown request"),
    "form.takedown.lead": (
        "当社のお客様のサイトに掲載された情報により権利を侵害された方は、送信防止措置依頼書と"
        "必要書類をご提出ください。原則として、まず当該サイトの管理者へお問い合わせください。",
        "If information on a site of our customer infringes your rights, file this request with "
        "the documents below. Please first ask the site's own administrator.",
    ),
    "form.is_agent": ("代理人による申し出です", "I file as an agent for the right holder"),
    "form.url": ("掲載URL", "URL of the information"),
    "form.information": ("掲載情報（侵害情報）", "The information at issue"),
    "form.infringed_right": ("被侵害権利", "The right infringed"),
    "form.choose": ("選択してください", "Choose one"),
    "form.reason": ("侵害理由", "Why it infringes the right"),
    "form.disclose": (
        "情報発信者への氏名開示",
        "May we disclose your name to the sender of the information?",
    ),
    "form.disclose_yes": ("開示してよい", "Yes, you may disclose my name"),
    "form.disclose_no": ("開示しない", "No, do not disclose my name"),
    "form.asked_admin": (
        "サイトの管理者へ削除を依頼しましたか",
        "Did you ask the site's administrator first?",
    ),
    "form.documents": ("提出書類", "Documents"),
    "form.request_form": (
        "登録印を押印した送信防止措置依頼書",
        "The request form bearing your registered seal",
    ),
    "form.sealed": ("登録印を押印しています", "It bears my registered seal"),
    "form.seal_certificate": (
        "印鑑登録証明書（発行から3カ月以内）",
        "Seal-registration certificate (issued within 3 months)",
    ),
    "form.issued_on": ("発行日", "Date of issue"),
    "form.power_of_attorney": ("委任状（代理人による場合）", "Power of attorney (for an agent)"),
    # spam (seed 000)
    "form.spam.title": ("迷惑メールの申告", "Spam complaint"),
    "form.spam.lead": (
        "当社のネットワークから送信された迷惑メールについて、該当メールのヘッダー情報と本文を"
        "すべてお送りください。申告者さまの情報はメール送信者へ開示いたしません。",
        "For spam sent from our network, give the mail's full header and body. We never tell "
        "the sender who complained.",
    ),
    "form.message": ("該当メールのヘッダーと本文（全文を貼り付け）", "The full header and body"),
    "form.eml": ("またはメールファイル（.eml）を添付", "Or attach the mail file (.eml)"),
    "form.comment": ("補足", "Comment"),
    # abuse (seed 000, seed 002 §18)
    "form.abuse.title": ("その他の迷惑行為の申告", "Other abuse"),
    "form.abuse.lead": (
        "攻撃、不正アクセスの試み、フィッシング、マルウェアなどの被害について、行為の内容（ログ"
        "など）、使用されたIPアドレスまたはホスト名、日時（日本時間）をお知らせください。",
        "For attacks, intrusion attempts, phishing, malware and the like, give the details "
        "(logs), the IP address or host name used, and the date and time in Japan time.",
    ),
    "form.ip": ("IPアドレス", "IP address"),
    "form.host": ("ホスト名", "Host name"),
    "form.ip_or_host": (
        "IPアドレスまたはホスト名のどちらかは必須です。",
        "Give the IP address, the host name, or both.",
    ),
    "form.occurred_at": ("日時（日本時間、年月日・時分）", "Date and time (JST, to the minute)"),
    "form.category": ("行為の種類", "Kind of abuse"),
    "form.category_other": ("「その他」の場合の種類", "Kind, if other"),
    "form.details": ("具体的な内容", "What happened"),
    "form.logs": ("ログ・メールヘッダーなど", "Logs, mail headers"),
    # answer page
    "form.received.title": ("受け付けました", "Received"),
    "form.received.reference": ("受付番号", "Reference number"),
    "form.received.lead": (
        "お申し出を受け付けました。お問い合わせの際は受付番号をお知らせください。"
        "受付のお知らせをご入力のメールアドレスへお送りします。",
        "Your report was received. Please quote the reference number in any message about it. "
        "A receipt is being sent to the e-mail address you gave.",
    ),
    # kept, but the database was too busy to record it: the worker does, and sends the receipt
    "form.received.pending": (
        "お申し出を受け付けました。ただいま混み合っているため、数分以内に登録いたします。"
        "受付番号は、ご入力のメールアドレスへお送りする受付のお知らせでお知らせします。"
        "同じ内容を再度送信していただく必要はありません。",
        "Your report was received. We are busy just now, so it will be registered within a few "
        "minutes. Its reference number will be in the receipt we send to the e-mail address you "
        "gave. There is no need to send it again.",
    ),
    "form.received.duplicate": (
        "同じ内容のお申し出は既に受け付けています。",
        "The same report had been received already.",
    ),
    "form.received.summary": ("お申し出の内容", "What you sent"),
    "form.received.files": ("添付ファイル", "Attached files"),
    # the operator's case page (console_uploads)
    "uploads.title": ("申告者の提出ファイル", "Files the complainant attached"),
    "uploads.download": ("理由を記録してダウンロード", "Record the reason and download"),
    "uploads.none": ("提出ファイルはありません。", "No files were attached."),
    "form.eml_file": ("メールファイル（.eml）", "Mail file (.eml)"),
    # problems
    "form.error.required": ("入力してください。", "This is required."),
    "form.error.invalid": ("入力内容が正しくありません。", "This value is not valid."),
    "form.error.email": ("メールアドレスが正しくありません。", "Enter a valid e-mail address."),
    "form.error.url": (
        "http:// または https:// で始まるURLを入力してください。",
        "Enter a URL starting with http:// or https://.",
    ),
    "form.error.ip": ("IPアドレスが正しくありません。", "This is not an IP address."),
    "form.error.host": ("ホスト名が正しくありません。", "This is not a host name."),
    "form.error.ip_or_host": (
        "IPアドレスまたはホスト名を入力してください。",
        "Give the IP address or the host name.",
    ),
    "form.error.occurred_at": (
        "日時を年月日・時分まで入力してください。",
        "Give the date and the time to the minute.",
    ),
    "form.error.occurred_at_range": (
        "日時は1970年以降、現在から1日以内で入力してください。",
        "Give a date and time from 1970 on and no later than a day from now.",
    ),
    "form.error.date": ("日付が正しくありません。", "This is not a valid date."),
    "form.error.issued_on": (
        "印鑑登録証明書の発行日を入力してください。",
        "Give the certificate's date of issue.",
    ),
    "form.error.certificate_file": (
        "印鑑登録証明書のファイルを添付してください。",
        "Attach the certificate itself.",
    ),
    "form.error.paste_or_upload": (
        "貼り付けかファイル添付のどちらか一方にしてください。",
        "Paste the mail or attach it, not both.",
    ),
    "form.error.no_received": (
        "ヘッダー情報（Received行）が含まれていません。ヘッダーを含む全文を貼り付けてください。",
        "There are no Received headers: paste the full header and the body.",
    ),
    "form.error.empty": ("ファイルが空です。", "The file is empty."),
    "form.error.too_large": (
        "ファイルが大きすぎます（{limit}まで）。",
        "The file is over {limit}.",
    ),
    "form.error.wrong_type": (
        "このファイルの形式は受け付けられません（内容で判定しています）。",
        "This kind of file is not accepted (judged by its content).",
    ),
    "form.error.wrong_type_eml": (
        "メールファイル（.eml、ヘッダー付きのテキスト）を添付してください。",
        "Attach a mail file (.eml: text with its headers).",
    ),
    "form.error.csrf": (
        "フォームの有効期限が切れました。内容を確認して、もう一度送信してください。",
        "The form had expired. Please check it and submit it again.",
    ),
    "form.error.rate": (
        "送信回数が多すぎます。しばらくしてからもう一度お試しください。",
        "Too many submissions from your address. Please try again later.",
    ),
    "form.error.too_big": (
        "送信内容が大きすぎます（合計{limit}まで）。",
        "What you sent is too large (at most {limit} in all).",
    ),
    "form.error.unreadable": (
        "お申し出を読み取れませんでした: {detail}",
        "Your report could not be read: {detail}",
    ),
}

# Each field of the forms, by the message key of its label (the answer page's summary).
FIELD_LABELS: Mapping[str, str] = {
    **{
        f"{who}_{key}": f"form.{key}"
        for who in ("requester", "reporter")
        for key in ("name", "address", "email", "phone", "organisation")
    },
    "is_agent": "form.is_agent",
    "url": "form.url",
    "information": "form.information",
    "infringed_right": "form.infringed_right",
    "reason": "form.reason",
    "disclose_name_to_sender": "form.disclose",
    "asked_site_admin_first": "form.asked_admin",
    "sealed": "form.sealed",
    "seal_certificate_issued_on": "form.issued_on",
    "message": "form.message",
    "comment": "form.comment",
    "ip": "form.ip",
    "host": "form.host",
    "occurred_at": "form.occurred_at",
    "category": "form.category",
    "category_other": "form.category_other",
    "details": "form.details",
    "logs": "form.logs",
}
# The files of the forms (intake.uploads roles), by the message key of their label.
ROLE_LABELS: Mapping[str, str] = {
    "request_form": "form.request_form",
    "seal_certificate": "form.seal_certificate",
    "power_of_attorney": "form.power_of_attorney",
    "eml": "form.eml_file",
}

RIGHTS: Mapping[str, tuple[str, str]] = {
    "defamation": ("名誉権（誹謗中傷・名誉毀損）", "Reputation (defamation)"),
    "privacy": ("プライバシー権", "Privacy"),
    "copyright": ("著作権", "Copyright"),
    "portrait": ("肖像権", "Portrait right"),
    "trademark": ("商標権", "Trademark"),
    "other": ("その他の権利", "Another right"),
}
CATEGORIES: Mapping[str, tuple[str, str]] = {
    code: (ja, en) for code, ja, en in taxonomy.PROHIBITED_ACTS
}


class FormTranslator(i18n.Translator):
    """The console's translator with the forms' words first."""

    def __call__(self, key: str, **values: object) -> str:
        if key not in MESSAGES:
            return super().__call__(key, **values)
        text = MESSAGES[key][self._index]
        return text.format(**values) if values else text


def size_label(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
