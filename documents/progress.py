"""How a job's progress reads for people: "Seite 3 von 12 · Texterkennung"."""

from django.utils.translation import gettext as _

STAGE_LABELS = {
    "preflight": "Prüfung",
    "ocr": "Texterkennung",
    "page": "Seite fertig",
    "extraction": "Auslesen",
    "done": "fertig",
}


def progress_text(state: dict | None) -> str:
    if not state:
        return ""
    stage = state.get("stage", "")
    label = _(STAGE_LABELS.get(stage, stage))
    if state.get("page") and state.get("pages"):
        return _("Seite %(page)s von %(pages)s · %(stage)s") % {
            "page": state["page"],
            "pages": state["pages"],
            "stage": label,
        }
    return label
