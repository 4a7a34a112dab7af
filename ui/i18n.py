"""English and Chinese strings of the web UI.

Static labels go through Gradio's :class:`gradio.I18n`: the browser shows them in its language,
or in the one chosen in Gradio's Settings panel (the page footer). HTML that the server renders
at run time (answers, source cards, progress tables) uses :func:`text` with the page's language,
which the page reports in a cookie (see ``ui.app.HEAD``), else the ``Accept-Language`` header.
"""

from __future__ import annotations

import gradio as gr

from assistant.answer.registry import MODES

LANGUAGES: tuple[str, ...] = ("en", "zh")
# Each language by its own name, as language pickers show them.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "zh": "中文"}

EN: dict[str, str] = {
    "app_title": "techkb — shared technical knowledge base",
    "intro": (
        "Ask technical questions and get answers cited from the knowledge base that colleges "
        "and companies share. Click a citation number to open its source."
    ),
    "signed_in_as": "Signed in as",
    "anonymous": "Not signed in: public material only.",
    "sign_out": "Sign out",
    "language": "Language",
    "tab_chat": "Ask",
    "tab_contribute": "Contribute",
    "tab_dashboard": "Dashboard",
    "chat_label": "Conversation",
    "question": "Your question",
    "question_placeholder": "e.g. How often is the grease of the J1 reducer replaced?",
    "mode": "Mode",
    **{f"mode_{m.name}": m.label_en for m in MODES.values()},
    "send": "Ask",
    "new_chat": "New conversation",
    "sources": "Sources",
    "no_sources": "Sources of the latest answer appear here.",
    "feedback_comment": "Comment on an answer (optional, sent with your thumbs up or down)",
    "feedback_thanks": "Thank you, your feedback was recorded.",
    "feedback_hint": (
        "Rate an answer with the thumbs-up or thumbs-down button under it; a comment typed "
        "below is sent with the rating."
    ),
    "download_md": "Download exercise set (Markdown)",
    "download_gift": "Download exercise set (Moodle GIFT)",
    "empty_question": "Type a question first.",
    "upload_title": "Upload documents for your organisation",
    "upload_files": "Files (Markdown, PDF, DOCX, HTML, PPTX, XLSX, text)",
    "kind": "Kind",
    "visibility": "Visibility",
    "allowed_roles": "Only these roles may read it (none ticked: every role)",
    "edition": "Edition (optional)",
    "license": "Licence (optional; default: your organisation's)",
    "upload_org": "For organisation (admins only)",
    "upload": "Upload",
    "upload_progress": "Upload progress",
    "no_files": "Choose at least one file.",
    "my_documents": "Documents",
    "refresh": "Refresh",
    "select_document": "Document",
    "delete": "Delete document",
    "replace": "Replace with the uploaded file",
    "deleted": "Document deleted.",
    "select_first": "Select a document first.",
    "contribute_refused": (
        "Only staff, teachers and administrators of an organisation can contribute documents."
    ),
    "dashboard_refused": "The dashboard is for staff, teachers and administrators.",
    "docs_by_contributor": "Documents by contributor",
    "docs_by_kind": "Documents by kind",
    "docs_by_visibility": "Documents by visibility",
    "chunks_by_contributor": "Chunks by contributor",
    "ledger": "Citation ledger: whose knowledge carried the answers",
    "feedback": "Feedback",
    "gaps": "Knowledge gaps: refused or down-voted questions",
    "eval": "Latest evaluation",
    "eval_plots": "Evaluation plots",
    "no_eval": "No evaluation report yet (run `techkb eval`).",
    "col_contributor": "contributor",
    "col_kind": "kind",
    "col_visibility": "visibility",
    "col_documents": "documents",
    "col_chunks": "chunks",
    "col_metric": "metric",
    "col_value": "value",
    "col_title": "title",
    "col_source": "source",
    "col_allowed_roles": "allowed roles",
    "col_edition": "edition",
    "col_license": "licence",
    "col_citations": "citations",
    "col_answers": "answers",
    "col_up": "up",
    "col_down": "down",
    "col_question": "question",
    "col_rating": "rating",
    "col_comment": "comment",
    "col_contributors": "contributors",
    "col_created": "when",
    "col_refused": "refused",
    # Server-rendered fragments (see module docstring).
    "refused_title": "No reliable evidence",
    "notes": "Notes",
    "card_contributor": "Contributor",
    "card_section": "Section",
    "card_page": "Page",
    "card_edition": "Edition",
    "card_license": "Licence",
    "card_kind": "Kind",
    "card_source": "Source",
    "card_unavailable": "This source is no longer available.",
    "sources_for": "Sources for",
    "job_queued": "queued",
    "job_running": "ingesting",
    "job_done": "done",
    "job_failed": "failed",
    "job_file": "File",
    "job_state": "State",
    "job_progress": "Progress",
    "job_message": "Message",
    "no_jobs": "No uploads in this session yet.",
    "error_access": "You may not do this.",
    "error_not_found": "Not found.",
    "error_auth": "Please sign in again.",
    "error_invalid": "Invalid input",
    "error_config": "The server is misconfigured",
    "error_backend": "The answering backend failed",
    "error_other": "Something went wrong",
    "signin_title": "Sign in to techkb",
    "signin_user": "User name",
    "signin_password": "Password",
    "signin_button": "Sign in",
    "signin_failed": "Wrong user name or password.",
    "signin_throttled": "Too many failed sign-ins. Wait a few minutes, then try again.",
    "upload_not_yours": "This file was not uploaded in this browser session; upload it again.",
    "enter_hint": "Enter sends · Shift+Enter starts a new line",
    "conversations": "Conversations",
    "conversations_info": "Your earlier conversations; click one to reopen it.",
    "delete_conversation": "Delete conversation",
    "confirm_delete": "Delete",
    "cancel": "Cancel",
    "confirm_delete_conversation": (
        "Delete the conversation **{title}**? Its {count} question(s) and their answers "
        "{where} are removed for good. Ratings you gave stay."
    ),
    "kept_on_server": "kept on the server",
    "kept_in_browser": "kept in this browser",
    "conversation_deleted": "Conversation deleted.",
    "select_conversation_first": "Select a conversation in the list first.",
    "details": "details",
    "answer_withheld": (
        "This answer is no longer shown: it cites sources you may not read any more."
    ),
    "note_fallback": (
        "The language model did not answer; this answer was composed directly from the sources."
    ),
    "note_removed_citations": "Some citations matched no source and were removed.",
    "note_uncited_reply": "The model's reply cited no source, so it is not shown.",
    "note_uncited_sentences": "Some sentences of this answer have no citation: check them.",
    "note_no_steps": (
        "No numbered procedure was found, so the answer quotes the sources' text instead."
    ),
    "note_no_steps_refused": "No numbered steps were found in the sources you may read.",
    "note_not_in_sources": "Something the question names is in none of the sources.",
    "note_no_answer_key": "No answer key you may read was found.",
    "confirm_delete_document": (
        "Delete **{title}** ({source})? Its file and its {chunks} passage(s) are removed from "
        "the knowledge base for everyone; answers will no longer cite it."
    ),
    "license_default": "Licence if left empty: {license}",
    "kind_standard": "standard",
    "kind_procedure": "procedure",
    "kind_case": "case study",
    "kind_course": "course material",
    "kind_other": "other",
    "visibility_public": "public (everyone)",
    "visibility_consortium": "consortium (signed-in members)",
    "visibility_org": "my organisation only",
    "scope_public": "public",
    "scope_consortium": "consortium",
    "scope_org": "organisation",
    "user_student": "student",
    "user_staff": "staff member",
    "user_teacher": "teacher",
    "user_admin": "administrator",
    "role_student": "students",
    "role_staff": "staff",
    "role_teacher": "teachers",
    "role_admin": "administrators",
}

ZH: dict[str, str] = {
    "app_title": "techkb — 共享技术知识库",
    "intro": "提出技术问题，答案引用院校与企业共建的知识库。点击引用编号可查看出处。",
    "signed_in_as": "当前用户",
    "anonymous": "未登录：只能查看公开资料。",
    "sign_out": "退出登录",
    "language": "界面语言",
    "tab_chat": "提问",
    "tab_contribute": "贡献资料",
    "tab_dashboard": "统计面板",
    "chat_label": "对话",
    "question": "您的问题",
    "question_placeholder": "例如：J1 轴减速机的润滑脂多久更换一次？",
    "mode": "模式",
    **{f"mode_{m.name}": m.label_zh for m in MODES.values()},
    "send": "提问",
    "new_chat": "新对话",
    "sources": "出处",
    "no_sources": "最新回答的出处显示在这里。",
    "feedback_comment": "对回答的意见（可选，随“赞”或“踩”一起提交）",
    "feedback_thanks": "谢谢，您的反馈已记录。",
    "feedback_hint": "点击回答下方的“赞”或“踩”按钮评价；下面填写的意见会一并提交。",
    "download_md": "下载练习题（Markdown）",
    "download_gift": "下载练习题（Moodle GIFT）",
    "empty_question": "请先输入问题。",
    "upload_title": "为本单位上传资料",
    "upload_files": "文件（Markdown、PDF、DOCX、HTML、PPTX、XLSX、文本）",
    "kind": "类型",
    "visibility": "可见范围",
    "allowed_roles": "仅限以下角色阅读（不勾选：所有角色）",
    "edition": "版本（可选）",
    "license": "许可（可选；默认为本单位的许可）",
    "upload_org": "所属单位（仅管理员）",
    "upload": "上传",
    "upload_progress": "上传进度",
    "no_files": "请至少选择一个文件。",
    "my_documents": "资料列表",
    "refresh": "刷新",
    "select_document": "资料",
    "delete": "删除资料",
    "replace": "用上传的文件替换",
    "deleted": "资料已删除。",
    "select_first": "请先选择一份资料。",
    "contribute_refused": "只有单位的员工、教师和管理员可以贡献资料。",
    "dashboard_refused": "统计面板仅对员工、教师和管理员开放。",
    "docs_by_contributor": "按贡献单位统计的资料",
    "docs_by_kind": "按类型统计的资料",
    "docs_by_visibility": "按可见范围统计的资料",
    "chunks_by_contributor": "按贡献单位统计的片段",
    "ledger": "引用台账：回答依据了谁的知识",
    "feedback": "用户反馈",
    "gaps": "知识缺口：被拒答或被点踩的问题",
    "eval": "最近一次评测",
    "eval_plots": "评测图表",
    "no_eval": "尚无评测报告（运行 `techkb eval`）。",
    "col_contributor": "贡献单位",
    "col_kind": "类型",
    "col_visibility": "可见范围",
    "col_documents": "资料数",
    "col_chunks": "片段数",
    "col_metric": "指标",
    "col_value": "数值",
    "col_title": "标题",
    "col_source": "来源",
    "col_allowed_roles": "限定角色",
    "col_edition": "版本",
    "col_license": "许可",
    "col_citations": "引用次数",
    "col_answers": "回答数",
    "col_up": "赞",
    "col_down": "踩",
    "col_question": "问题",
    "col_rating": "评价",
    "col_comment": "意见",
    "col_contributors": "贡献单位",
    "col_created": "时间",
    "col_refused": "拒答",
    "refused_title": "没有可靠依据",
    "notes": "说明",
    "card_contributor": "贡献单位",
    "card_section": "章节",
    "card_page": "页码",
    "card_edition": "版本",
    "card_license": "许可",
    "card_kind": "类型",
    "card_source": "来源",
    "card_unavailable": "该出处已不可用。",
    "sources_for": "出处：",
    "job_queued": "排队中",
    "job_running": "导入中",
    "job_done": "完成",
    "job_failed": "失败",
    "job_file": "文件",
    "job_state": "状态",
    "job_progress": "进度",
    "job_message": "信息",
    "no_jobs": "本次会话尚未上传文件。",
    "error_access": "您无权执行此操作。",
    "error_not_found": "未找到。",
    "error_auth": "请重新登录。",
    "error_invalid": "输入无效",
    "error_config": "服务器配置有误",
    "error_backend": "回答后端出错",
    "error_other": "出现错误",
    "signin_title": "登录 techkb",
    "signin_user": "用户名",
    "signin_password": "密码",
    "signin_button": "登录",
    "signin_failed": "用户名或密码错误。",
    "signin_throttled": "登录失败次数过多，请等几分钟后再试。",
    "upload_not_yours": "此文件不是在本次浏览器会话中上传的，请重新上传。",
    "enter_hint": "按 Enter 发送 · Shift+Enter 换行",
    "conversations": "历史对话",
    "conversations_info": "您以前的对话；点击即可重新打开。",
    "delete_conversation": "删除对话",
    "confirm_delete": "删除",
    "cancel": "取消",
    "confirm_delete_conversation": (
        "删除对话 **{title}**？其中 {count} 个问题及回答（{where}）将被永久删除。"
        "您给出的评价会保留。"
    ),
    "kept_on_server": "保存在服务器上",
    "kept_in_browser": "保存在本浏览器中",
    "conversation_deleted": "对话已删除。",
    "select_conversation_first": "请先在列表中选择一个对话。",
    "details": "详细信息",
    "answer_withheld": "此回答已不再显示：它引用了您现在无权查看的资料。",
    "note_fallback": "语言模型未能回答；此回答直接由资料内容组成。",
    "note_removed_citations": "部分引用与任何资料都不对应，已删除。",
    "note_uncited_reply": "模型的回复未引用任何资料，因此不予显示。",
    "note_uncited_sentences": "此回答中有些句子没有引用，请核对。",
    "note_no_steps": "未找到编号的操作步骤，因此回答引用了资料原文。",
    "note_no_steps_refused": "在您可查看的资料中未找到编号的操作步骤。",
    "note_not_in_sources": "问题中提到的内容在任何资料中都没有出现。",
    "note_no_answer_key": "未找到您可查看的参考答案。",
    "confirm_delete_document": (
        "删除 **{title}**（{source}）？其文件和 {chunks} 个片段将从知识库中删除，"
        "所有人都将无法再看到，回答也不会再引用它。"
    ),
    "license_default": "留空时的许可：{license}",
    "kind_standard": "标准",
    "kind_procedure": "操作规程",
    "kind_case": "案例",
    "kind_course": "课程资料",
    "kind_other": "其他",
    "visibility_public": "公开（所有人）",
    "visibility_consortium": "联盟（已登录成员）",
    "visibility_org": "仅本单位",
    "scope_public": "公开",
    "scope_consortium": "联盟",
    "scope_org": "本单位",
    "user_student": "学生",
    "user_staff": "员工",
    "user_teacher": "教师",
    "user_admin": "管理员",
    "role_student": "学生",
    "role_staff": "员工",
    "role_teacher": "教师",
    "role_admin": "管理员",
}

#: Gradio resolves "zh-CN" to its own built-in locale, so the custom strings go under both.
I18N = gr.I18n(en=EN, zh=ZH, **{"zh-CN": ZH})


def t(key: str) -> gr.i18n.I18nData:
    """A translatable label for a Gradio component.

    Raises:
        KeyError: when the key has no English string (caught by the unit tests).
    """
    if key not in EN:
        raise KeyError(f"no UI string {key!r}")
    return I18N(key)


def text(key: str, lang: str) -> str:
    """The string for ``key`` in ``lang`` ("en" or "zh"), English when missing."""
    table = ZH if lang == "zh" else EN
    return table.get(key, EN[key])


def language_of(accept_language: str | None) -> str:
    """Pick "zh" or "en" from an ``Accept-Language`` header, by the first language listed."""
    if not accept_language:
        return "en"
    best = ("en", -1.0)
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        # Earlier entries win ties, as browsers list the preferred language first.
        score = weight - position * 1e-6
        if primary in LANGUAGES and score > best[1]:
            best = (primary, score)
    return best[0]
