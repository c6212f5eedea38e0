"""The optional visitor attributes (../shared/DOMAIN.md): codes and translated labels."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from reports.models import NOT_GIVEN

__all__ = ["ATTRIBUTES", "NOT_GIVEN", "NOT_GIVEN_LABEL", "allowed", "label"]

ATTRIBUTES: dict[str, tuple[Promise, list[tuple[str, Promise]]]] = {
    "age_band": (
        _("Age"),
        [
            ("under_20", _("under 20")),
            ("20_24", _("20–24")),
            ("25_29", _("25–29")),
            ("30_39", _("30–39")),
            ("40_49", _("40–49")),
            ("50_59", _("50–59")),
            ("60_plus", _("60 or older")),
        ],
    ),
    "gender": (
        _("Gender"),
        [
            ("kvinne", _("woman")),
            ("mann", _("man")),
            ("annet", _("other")),
            ("vil_ikke_oppgi", _("prefer not to say")),
        ],
    ),
    "situation": (
        _("Current situation"),
        [
            ("i_arbeid", _("in work")),
            ("under_utdanning", _("in education")),
            ("arbeidsledig", _("unemployed")),
            ("permittert", _("furloughed")),
            ("sykmeldt", _("on sick leave")),
            ("annet", _("other")),
        ],
    ),
    "education": (
        _("Highest education"),
        [
            ("grunnskole", _("lower secondary school")),
            ("videregaende", _("upper secondary school")),
            ("fagbrev_fagskole", _("trade certificate or vocational college")),
            ("bachelor", _("bachelor's degree")),
            ("master_pluss", _("master's degree or higher")),
        ],
    ),
    "heard_from": (
        _("How did you hear about us?"),
        [
            ("utdanning_no", _("utdanning.no")),
            ("nav", _("NAV")),
            ("skole", _("school")),
            ("venner_familie", _("friends or family")),
            ("sok", _("web search")),
            ("sosiale_medier", _("social media")),
            ("annet", _("other")),
        ],
    ),
}
NOT_GIVEN_LABEL = _("not given")


def allowed(name: str) -> set[str]:
    return {code for code, _label in ATTRIBUTES[name][1]} | {NOT_GIVEN}


def label(name: str, code: str) -> str:
    if code == NOT_GIVEN:
        return str(NOT_GIVEN_LABEL)
    return str(dict(ATTRIBUTES[name][1]).get(code, code))
