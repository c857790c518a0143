"""The console's words in Japanese (the default) and English (the switch).

Operators are Japanese, so every page is written in Japanese first; English is the second
language for colleagues and auditors. A message missing in one language is a test failure, not a
blank on the page (``tests/web/test_i18n.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
LANG_COOKIE = "td_lang"

MESSAGES: Mapping[str, tuple[str, str]] = {
    # layout
    "app.name": ("trustdesk 不正利用対応", "trustdesk abuse desk"),
    "nav.queue": ("案件キュー", "Queue"),
    "nav.dashboard": ("ダッシュボード", "Dashboard"),
    "nav.outbox": ("送信済み通知", "Outbox"),
    "nav.actions": ("措置", "Actions"),
    "nav.audit": ("監査ログ", "Audit trail"),
    "nav.logout": ("ログアウト", "Log out"),
    "nav.lang": ("English", "日本語"),
    "nav.signed_in_as": ("ログイン中", "Signed in as"),
    # login
    "login.title": ("ログイン", "Log in"),
    "login.username": ("ユーザー名", "User name"),
    "login.password": ("パスワード", "Password"),
    "login.submit": ("ログイン", "Log in"),
    # queue
    "queue.title": ("対応待ちの案件", "Open cases"),
    "queue.filter": ("絞り込み", "Filter"),
    "queue.all": ("すべて", "All"),
    "queue.overdue_only": ("期限切れのみ", "Overdue only"),
    "queue.empty": ("該当する案件はありません。", "No cases match."),
    "queue.bulk": ("選択した案件を", "Selected cases:"),
    "queue.bulk_assign_me": ("自分に割り当て", "Assign to me"),
    "queue.bulk_apply": ("実行", "Apply"),
    "queue.bulk_done": (
        "{done}件を処理しました。{skipped}件はこの状態では実行できません。",
        "{done} done; {skipped} not allowed in their state.",
    ),
    "col.reference": ("案件番号", "Case"),
    "col.workflow": ("種別", "Kind"),
    "col.state": ("状態", "State"),
    "col.subscriber": ("契約者", "Subscriber"),
    "col.assignee": ("担当", "Assignee"),
    "col.deadline": ("期限 (JST)", "Deadline (JST)"),
    "col.remaining": ("残り", "Remaining"),
    "col.opened": ("受付 (JST)", "Opened (JST)"),
    "col.complaints": ("申告数", "Complaints"),
    "overdue": ("期限切れ", "Overdue"),
    "no_deadline": ("期限なし", "No deadline"),
    "nobody": ("未割当", "Unassigned"),
    "unattributed": ("特定できず", "Not attributed"),
    # case page
    "case.title": ("案件", "Case"),
    "case.policy": ("適用ポリシー", "Policy"),
    "case.decide": ("判断・操作", "Decision"),
    "case.note": ("理由・メモ（タイムラインに記録）", "Reason or note (kept in the timeline)"),
    "case.no_decisions": (
        "この状態で行える操作はありません。",
        "No decision is open in this state.",
    ),
    "case.timeline": ("経過", "Timeline"),
    "case.complaints": ("申告", "Complaints"),
    "case.attribution": ("発信元の特定", "Attribution"),
    "case.evidence": ("証拠（原文）", "Evidence (original)"),
    "case.evidence_hidden": (
        "通信の秘密に関わる内容です。閲覧は理由とともに監査ログに記録されます。",
        "Secret communications: viewing is recorded with its reason in the audit trail.",
    ),
    "case.reveal": ("理由を記録して表示", "Record the reason and show"),
    "case.reason": ("閲覧理由", "Reason for viewing"),
    "case.complainant": ("申告者", "Complainant"),
    "case.complainant_hidden": (
        "申告者情報は権限のある担当者のみ閲覧できます。",
        "Only authorised roles see who complained.",
    ),
    "case.outbox": ("通知", "Notices"),
    "case.charges": ("請求", "Charges"),
    "case.actions": ("措置", "Enforcement actions"),
    "case.assign": ("担当者を変更", "Reassign"),
    "case.assign_submit": ("割り当て", "Assign"),
    "case.decided": ("記録しました。", "Recorded."),
    "case.not_allowed": (
        "この状態ではその操作はできません。",
        "That is not allowed in this state.",
    ),
    "case.changed": (
        "この案件は表示の後に変更されました（他の担当者の操作または期限の処理）。"
        "操作は行っていません。最新の内容を確認して、もう一度操作してください。",
        "The case changed after you opened it (another operator, or its deadline); nothing was "
        "done. Check it as it is now and decide again.",
    ),
    # subscriber
    "subscriber.title": ("契約者", "Subscriber"),
    "subscriber.status": ("利用状態", "Status"),
    "subscriber.plan": ("プラン", "Plan"),
    "subscriber.fee": ("月額料金", "Monthly fee"),
    "subscriber.balance": ("請求残高", "Billed balance"),
    "subscriber.ledger": ("請求明細", "Ledger"),
    "subscriber.cases": ("案件", "Cases"),
    "subscriber.contact": ("連絡先", "Contact"),
    # outbox and actions
    "outbox.title": ("通知（送信箱）", "Outbox"),
    "outbox.to": ("宛先", "To"),
    "outbox.subject": ("件名", "Subject"),
    "outbox.status": ("状態", "Status"),
    "outbox.created": ("作成 (JST)", "Created (JST)"),
    "outbox.sent": ("送信 (JST)", "Sent (JST)"),
    "outbox.to_complainant": ("申告者宛て（非表示）", "To the complainant (hidden)"),
    "outbox.body_hidden": (
        "申告者宛ての通知です。宛先と本文は、権限のある担当者が理由を記録したときのみ表示されます。",
        "A notice to the complainant: its address and text are shown only to authorised roles, "
        "with a recorded reason.",
    ),
    "outbox.reveal": ("申告者宛ての通知", "notices to the complainant"),
    "actions.title": ("措置（プロビジョニング連携）", "Enforcement actions"),
    "actions.action": ("措置", "Action"),
    "actions.status": ("状態", "Status"),
    "actions.requested": ("依頼 (JST)", "Requested (JST)"),
    "actions.error": ("エラー", "Error"),
    # dashboard
    "dash.title": ("ダッシュボード", "Dashboard"),
    "dash.per_day": ("日別の申告数（種別ごと、過去14日）", "Complaints per day by kind (14 days)"),
    "dash.by_state": ("状態別の未完了案件", "Open cases by state"),
    "dash.within_hour": ("申告から1時間以内に通知した割合", "Notices sent within 1 hour"),
    "dash.overdue": ("期限切れの案件", "Overdue cases"),
    "dash.top": ("申告の多い契約者", "Top subscribers by complaints"),
    "dash.no_data": ("データがありません", "No data yet"),
    # audit
    "audit.title": (
        "監査ログ（個人情報・通信記録の閲覧）",
        "Audit trail (personal data, connection logs)",
    ),
    "audit.intact": (
        "ハッシュチェーンは正常です（{count}件）",
        "Hash chain intact ({count} entries)",
    ),
    "audit.broken": (
        "ハッシュチェーンが第{entry}件で途切れています",
        "Hash chain broken at entry {entry}",
    ),
    "audit.export": ("エクスポート", "Export"),
    "audit.at": ("日時 (JST)", "When (JST)"),
    "audit.actor": ("誰が", "Who"),
    "audit.action": ("何を", "What"),
    "audit.subject": ("対象", "Subject"),
    "audit.reason": ("理由", "Why"),
    # administration
    "nav.admin": ("管理", "Admin"),
    "admin.title": ("オペレーターとAPIキー", "Operators and API keys"),
    "admin.users": ("オペレーター", "Operators"),
    "admin.keys": ("APIキー", "API keys"),
    "admin.role": ("役割", "Role"),
    "admin.state": ("状態", "State"),
    "admin.active": ("有効", "active"),
    "admin.disabled": ("無効", "disabled"),
    "admin.revoked": ("失効", "revoked"),
    "admin.last_login": ("最終ログイン (JST)", "Last login (JST)"),
    "admin.last_used": ("最終利用 (JST)", "Last used (JST)"),
    "admin.disable": ("無効にする", "Disable"),
    "admin.revoke": ("失効させる", "Revoke"),
    "admin.add_user": ("追加", "Add"),
    "admin.user_added": ("{name} を追加しました。", "{name} added."),
    "admin.key_name": ("利用者（システム名）", "Client"),
    "admin.merchant": ("加盟店（役割 merchant のみ）", "Merchant (merchant role only)"),
    "admin.create_key": ("発行", "Create"),
    "admin.key_once": (
        "新しいAPIキーです。この画面でのみ表示されます。安全な場所に保管してください。",
        "The new API key, shown on this page only. Keep it somewhere safe.",
    ),
    # network (seed 002 §25, §25-2, §28)
    "nav.network": ("ネットワーク", "Network"),
    "net.title": ("C&Cサーバー通信遮断・CSAMブロッキング・通信量", "C&C blocking, CSAM, traffic"),
    "net.active_cc": ("遮断中のC&Cドメイン", "C&C domains blocked"),
    "net.allowlisted": ("許可リスト", "allowlisted"),
    "net.opted_out": ("遮断を停止した会員", "members opted out"),
    "net.csam_hosts": ("CSAMでブロック中のホスト", "hosts blocked for CSAM"),
    "net.csam_overblock": (
        "うちパス指定でホスト全体をブロック: {count}",
        "{count} blocked whole for a path",
    ),
    "net.traffic": ("通信量", "Traffic"),
    "net.csam": ("児童ポルノ掲載アドレスリスト", "CSAM address list"),
    "net.edit": ("手動での追加・解除", "Change by hand"),
    "net.domain": ("ドメイン", "Domain"),
    "net.block": ("遮断する", "Block"),
    "net.unblock": ("遮断をやめる", "Unblock"),
    "net.allow": ("許可リストへ", "Allowlist"),
    "net.disallow": ("許可リストから外す", "Remove from allowlist"),
    "net.entries": ("C&Cドメイン", "C&C domains"),
    "net.source": ("提供元", "Source"),
    "net.first_seen": ("初回確認", "First seen"),
    "net.last_seen": ("最終確認", "Last seen"),
    "net.allowlist": ("許可リスト（フィードより優先）", "Allowlist (wins over every feed)"),
    "net.changes": ("変更履歴", "Change log"),
    "net.csam_counts": (
        "有効な掲載 {entries} 件、ブロック中のホスト {hosts} 件。",
        "{entries} active entries on {hosts} hosts.",
    ),
    "net.csam_sealed": (
        "リストの内容は専任の担当者のみ閲覧できます。閲覧は理由とともに監査ログに記録されます。",
        "Only the dedicated role reads the entries; every reading is audited with its reason.",
    ),
    "net.entry": ("掲載アドレス", "Entry"),
    "net.host": ("ホスト", "Host"),
    "net.whole_host": ("ホスト全体", "whole host"),
    "net.day": ("日付 (JST)", "Day (JST)"),
    "net.sites": (
        "ホームページ領域（1日{limit} MiB以上で制限）",
        "Hosted sites (restricted at {limit} MiB a day)",
    ),
    "net.site": ("サイト", "Site"),
    "net.requests": ("リクエスト数", "Requests"),
    "net.heavy": ("帯域制御の対象候補", "Flagged for bandwidth control"),
    "net.heavy_rule": (
        "中央値の{multiple}倍を超える日が{days}日以上",
        "over {multiple}× the median on {days} days or more",
    ),
    "net.median": ("中央値", "median"),
    "net.optout": ("C&Cサーバー通信遮断", "C&C blocking"),
    "net.blocking_on": ("有効", "on"),
    "net.blocking_off": (
        "会員の申し出により停止中（{since}から）",
        "off at the member's request (since {since})",
    ),
    "net.switch_off": ("遮断を停止する", "Switch blocking off"),
    "net.switch_on": ("遮断を再開する", "Switch blocking on"),
    "net.optout_unreached": (
        "遮断を停止しましたが、この会員が現在使用中のアドレスが見つからないため、DNSサーバーにはまだ反映されません（次回の接続後の書き出しで反映されます）。",
        "Blocking is off, but no address the member holds now was found, so the resolvers "
        "do not see it yet (the export after their next connection applies it).",
    ),
    "net.send_link": ("会員に設定ページのリンクを送る", "Mail the member their settings link"),
    "net.link_sent": (
        "会員の登録メールアドレスへリンクを送りました。",
        "The link was mailed to the member.",
    ),
    # the merchant's console (seed 004)
    "nav.merchant": ("不正検知", "Fraud detection"),
    "merchant.title": ("不正注文検知サービス", "Fraud detection"),
    "merchant.reviews": ("目視確認待ちの注文（スコア「中」）", "Orders to review (band 中)"),
    "merchant.no_reviews": ("確認待ちの注文はありません。", "No order waits for review."),
    "merchant.order": ("注文番号", "Order"),
    "merchant.ordered": ("注文日時", "Ordered"),
    "merchant.amount": ("金額", "Amount"),
    "merchant.score": ("スコア", "Score"),
    "merchant.reasons": ("理由", "Reasons"),
    "merchant.approve": ("出荷してよい", "Approve"),
    "merchant.hold": ("保留", "Hold"),
    "merchant.cancel": ("キャンセル", "Cancel"),
    "merchant.guarantee": ("チャージバック保証（出荷済み）", "Chargeback guarantee (shipped)"),
    "merchant.orders": ("件数", "Orders"),
    "merchant.chargebacks": ("チャージバック", "Chargebacks"),
    "merchant.covered": ("保証対象（低・信頼性高で出荷）", "Covered (shipped at 低 or 信頼性高)"),
    "merchant.uncovered": ("保証対象外（中・高で出荷）", "Not covered (shipped at 中 or 高)"),
    "merchant.rules": ("判定ロジック（バージョン）", "Rule set versions"),
    "merchant.version": ("バージョン", "Version"),
    "merchant.created_at": ("作成", "Created"),
    "merchant.rule_count": ("ルール数", "Rules"),
    "merchant.note": ("メモ", "Note"),
    "merchant.active": ("適用中", "active"),
    "merchant.backtest": ("過去の注文で試す", "Backtest"),
    "merchant.activate": ("適用する", "Activate"),
    "merchant.backtest_of": (
        "v{version} を過去の注文{orders}件に適用すると、{changed}件の判定が変わります",
        "v{version} on {orders} past orders: {changed} would change band",
    ),
    "merchant.backtest_limited": (
        "評価の負荷の上限により、直近{limit}件の注文で試しました。",
        "Tried on the newest {limit} orders: the evaluation budget allows no more.",
    ),
    "merchant.not_run": (
        "このバージョンの次のルールは実行されません（他のルールで判定します）。適用できません。",
        "These rules of this version do not run (the others still score); it cannot be activated.",
    ),
    "merchant.before": ("現在", "Now"),
    "merchant.after": ("適用後", "With this version"),
    "merchant.new_version": ("新しいバージョンを作成（JSON）", "New version (JSON)"),
    "merchant.save": ("検証して保存", "Check and save"),
    "merchant.save_hint": (
        "保存しても適用はされません。過去の注文で試してから適用してください。",
        "Saving does not activate it: backtest first, then activate.",
    ),
    "merchant.created": ("v{version} を保存しました（未適用）。", "v{version} saved (not active)."),
    "merchant.activated": ("v{version} を適用しました。", "v{version} is now active."),
    # errors
    "error.title": ("エラー", "Error"),
    "error.forbidden": ("この操作を行う権限がありません。", "Your role may not do this."),
    "error.not_found": ("見つかりません。", "Not found."),
    "error.internal": (
        "サーバーでエラーが発生しました。記録されていますので、管理者にお知らせください。",
        "The server failed. The error is logged; please tell the administrator.",
    ),
    "error.csrf": (
        "フォームの有効期限が切れました。再読み込みしてください。",
        "The form is stale; reload the page.",
    ),
}

# Workflow states and events as operators read them (trustdesk.cases.workflow_*).
STATES: Mapping[str, tuple[str, str]] = {
    "new": ("新規", "new"),
    "received": ("受付", "received"),
    "awaiting_reply": ("報告待ち（72時間）", "awaiting report (72 h)"),
    "under_review": ("確認中", "under review"),
    "suspended": ("利用停止中", "suspended"),
    "reinstated": ("再開済み", "reinstated"),
    "resolved": ("解決", "resolved"),
    "closed": ("完了", "closed"),
    "terminated": ("契約解除", "terminated"),
    "awaiting_documents": ("書類の補充待ち", "awaiting documents"),
    "awaiting_sender": ("発信者の回答待ち", "awaiting the sender"),
    "sender_warned": ("発信者へ事前通知済み", "sender warned"),
    "awaiting_judgement": ("侵害の判断待ち", "awaiting judgement"),
    "taken_down": ("送信防止措置済み", "taken down"),
    "sender_silent": ("発信者無回答（措置済み）", "sender silent (taken down)"),
    "sender_suspended": ("発信者を利用停止", "sender suspended"),
    "closed_not_ours": ("当社顧客外（書類返却）", "not our customer (returned)"),
    "closed_removed": ("発信者が削除", "removed by the sender"),
    "closed_no_action": ("措置なし", "no action"),
    "notified": ("通知済み・回答待ち", "notified, awaiting answer"),
    "deleted": ("削除・非表示済み", "deleted or hidden"),
    "sender_answered": ("発信者が回答（確認中）", "sender answered"),
    "closed_merged": ("他の案件に統合", "merged into another case"),
    "restricted": ("アクセス制限中（通信量）", "access restricted (traffic)"),
}
EVENTS: Mapping[str, tuple[str, str]] = {
    "resolve": ("解決とする", "Resolve"),
    "malicious": ("悪質と判断（即時停止）", "Judge malicious (suspend)"),
    "reinstate": ("誓約書受領・再開", "Pledge received: reinstate"),
    "terminate": ("契約解除", "Terminate"),
    "confirm-infringement": ("侵害を確認（削除）", "Confirm infringement (take down)"),
    "reject": ("侵害を確認できず", "Infringement not confirmed"),
    "close": ("完了にする", "Close"),
    "reopen": ("再開する", "Reopen"),
    "escalate": ("次の段階へ", "Escalate"),
    "supplement": ("書類の補充を受領", "Documents supplemented"),
    "sender-removed": ("発信者が削除した", "Sender removed it"),
    "sender-agreed": ("発信者が同意した", "Sender agreed"),
    "sender-objected": ("発信者が反論した", "Sender objected"),
    "warn-silent-sender": ("無回答の発信者へ事前通知", "Warn the silent sender"),
    "suspend-sender": ("発信者を利用停止", "Suspend the sender"),
    "reply": ("回答を受領", "Reply received"),
    # the workflow's own events and the case operations, as the timeline shows them
    "open": ("受付・通知", "opened"),
    "deadline": ("期限到来", "deadline passed"),
    "complaint": ("追加の申告", "further complaint"),
    "merged": ("統合", "merged"),
    "merge": ("案件を統合", "case merged in"),
    "split": ("案件を分割", "case split"),
    "assign": ("担当者の変更", "assigned"),
    "reply-recorded": ("回答を記録", "reply recorded"),
    "notice-sent": ("通知を送信（回答期間の開始）", "notice handed over (the period starts)"),
    "notice-failed": ("通知の不達（回答期間は未開始）", "notice undelivered (no period started)"),
    "resend": ("通知を再送", "Send the notice again"),
}
# The reply clock of a case (Case.clock, issue 17): shown beside its state and deadline.
CLOCKS: Mapping[str, tuple[str, str]] = {
    "waits": (
        "通知の送信待ち（期限は送信時から計算）",
        "waiting for its notice's hand-off (the period runs from then)",
    ),
    "failed": (
        "通知不達・要対応（回答期間は未開始）",
        "notice undelivered: an operator decides (no period started)",
    ),
}
WORKFLOWS: Mapping[str, tuple[str, str]] = {
    "spam": ("迷惑メール", "spam"),
    "takedown": ("送信防止措置", "takedown"),
    "abuse": ("その他の不正利用", "other abuse"),
    "traffic": ("通信量の制限", "traffic limit"),
}
KINDS: Mapping[str, tuple[str, str]] = {
    "spam": ("迷惑メール", "spam"),
    "takedown": ("送信防止措置依頼", "takedown request"),
    "abuse": ("その他の不正利用", "other abuse"),
    "vulnerable_device": ("脆弱な機器", "vulnerable device"),
    "traffic": ("通信量超過", "traffic over the limit"),
}
STATUSES: Mapping[str, tuple[str, str]] = {
    "active": ("利用中", "active"),
    "suspended": ("利用停止", "suspended"),
    "terminated": ("解約", "terminated"),
    "pending": ("待機中", "pending"),
    "sent": ("送信済み", "sent"),
    "kept": ("保管（SMTP未設定）", "kept (no SMTP)"),
    "failed": ("失敗", "failed"),
    "undeliverable": ("宛先なし", "no address"),
    "done": ("完了", "done"),
}

# What an audit entry records (privacy.service.record_access), as the privacy officer reads it.
AUDIT_ACTIONS: Mapping[str, tuple[str, str]] = {
    "view-case": ("案件の閲覧", "viewed a case"),
    "view-complaint": ("申告（証拠・申告者を含む）の閲覧", "viewed a complaint with evidence"),
    "view-evidence": ("証拠（通信の内容）の閲覧", "viewed evidence"),
    "view-complainant": ("申告者の閲覧", "viewed the complainant"),
    "view-subscriber": ("契約者情報の閲覧", "viewed a subscriber"),
    "download-form-upload": ("申告の添付書類のダウンロード", "downloaded a form's file"),
    "attribute": ("発信元の特定（接続記録の照会）", "attributed an address"),
    "attribute-complaints": ("申告の発信元の特定", "attributed complaints"),
    "attribute-traffic": ("通信量の利用者の特定", "attributed traffic"),
    "traffic-report": ("通信量レポートの閲覧", "read the traffic report"),
    "view-csam-list": ("CSAMアドレスリストの閲覧", "viewed the CSAM list"),
    "export-dns-optouts": ("C&C遮断停止者の書き出し", "exported the DNS opt-outs"),
    "view-audit": ("監査ログの閲覧", "viewed the audit trail"),
    "export-audit": ("監査ログのエクスポート", "exported the audit trail"),
    "grant-personal-data": (
        "個人情報を閲覧できる役割の付与（アカウント・APIキーの作成）",
        "granted a role that reads personal data (account or API key)",
    ),
}


def pick_language(cookie: str | None) -> str:
    """The cookie's choice, else Japanese: the console is Japanese unless one switches."""
    return cookie if cookie in LANGUAGES else DEFAULT


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._index = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[key][self._index]
        return text.format(**values) if values else text

    def label(self, table: Mapping[str, tuple[str, str]], code: str | None) -> str:
        if code is None:
            return "-"
        known = table.get(code)
        return known[self._index] if known else code
