"""A score's reasons as a salesperson reads them: grouped, material, no contradiction left unexplained.

`ml` gives each feature's effect on one lead's score (`ml.scoring.Factor`). Here they become what the lead
page shows:
- grouped by what a salesperson thinks about ("Recent contact", "Deal size", "Source", ...);
- only effects of at least MATERIAL_POINTS score points: smaller ones are noise, not reasons;
- a reason that reads as a contradiction ("Never contacted" raising the score, "High priority" lowering it)
  is shown only with the team's own evidence for it ("In this team's history, 14 of 20 closed leads never
  contacted were won: 70%, against 41% overall"). Without such evidence it is left out: a model's quirk
  is not something to tell a salesperson.
"""

import math
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q

from crm.models import Interaction, Lead, won_q
from crm.people import full_name
from ml.scoring import Factor

# Effects below this many score points are not shown.
MATERIAL_POINTS = 2.0
# A cohort this small proves nothing either way.
MIN_COHORT = 5

GROUPS = {
    "days_since_last_interaction": "Recent contact",
    "n_interactions": "Conversations",
    "n_call": "Conversations",
    "n_email": "Conversations",
    "n_meeting": "Conversations",
    "n_note": "Conversations",
    "engagement_level": "Engagement",
    "value": "Deal size",
    "source": "Source",
    "priority": "Priority",
    "owner": "Owner",
    "age_days": "Lead age",
}
GROUP_ORDER = [*dict.fromkeys(GROUPS.values()), "Other details"]


@dataclass(frozen=True)
class Reason:
    text: str
    effect: float
    why: str = ""

    @property
    def raises(self) -> bool:
        return self.effect > 0


@dataclass
class Group:
    title: str
    reasons: list[Reason] = field(default_factory=list)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def sounds(feature: str, value) -> int:
    """+1 when a value sounds good for a deal to a salesperson, -1 when it sounds bad, 0 when neutral."""
    if feature == "days_since_last_interaction":
        if _missing(value):
            return -1
        return 1 if value < 7 else (-1 if value >= 14 else 0)
    if _missing(value):
        return 0
    if feature in {"n_interactions", "n_call", "n_meeting"}:
        return 1 if value >= 1 else -1
    if feature == "engagement_level":
        return {0: -1, 1: -1, 3: 1}.get(int(value), 0)
    if feature == "priority":
        return {1: -1, 3: 1, 4: 1}.get(int(value), 0)
    return 0


def _contact_before_close(kind: str | None = None) -> Exists:
    contacts = Interaction.objects.filter(lead=OuterRef("pk"), occurred_at__lte=F("lead__closed_at"))
    return Exists(contacts.filter(kind=kind) if kind else contacts)


def cohort(feature: str, value) -> tuple[Q | Exists, str] | None:
    """The closed leads like this one in this respect, as they stood when they closed, and how to say it."""
    if feature == "days_since_last_interaction" and _missing(value):
        return ~_contact_before_close(), "never contacted"
    if feature in {"n_interactions", "n_call", "n_meeting"}:
        kind = None if feature == "n_interactions" else feature[2:]
        noun = "contact" if kind is None else kind
        if value >= 1:
            return _contact_before_close(kind), f"with a {noun} logged"
        return ~_contact_before_close(kind), f"without a {noun} logged"
    if feature == "engagement_level":
        label = Lead.Engagement(int(value)).label.lower()
        return Q(engagement_level=int(value)), f"with {label} engagement"
    if feature == "priority":
        label = Lead.Priority(int(value)).label.lower()
        return Q(priority=int(value)), f"of {label} priority"
    return None


def team_evidence(feature: str, value, raises: bool) -> str:
    """Why a surprising reason holds, from this team's closed leads; "" when their history does not say so."""
    found = cohort(feature, value)
    if found is None:
        return ""
    condition, phrase = found
    closed = Lead.objects.closed()
    totals = closed.aggregate(n=Count("pk"), won=Count("pk", filter=won_q()))
    alike = closed.filter(condition).aggregate(n=Count("pk"), won=Count("pk", filter=won_q()))
    if alike["n"] < MIN_COHORT or not totals["n"]:
        return ""
    rate, overall = alike["won"] / alike["n"], totals["won"] / totals["n"]
    if (rate > overall) != raises or rate == overall:
        return ""
    return (
        f"In this team's history, {alike['won']} of {alike['n']} closed leads {phrase} were won "
        f"({rate:.0%}, against {overall:.0%} overall)."
    )


def wording(factor: Factor) -> str:
    """The label `ml` wrote, where a salesperson says it differently (the group's title says the rest)."""
    if _missing(factor.value):
        return factor.label
    if factor.feature == "engagement_level":
        label = Lead.Engagement(int(factor.value)).label
        return "No engagement yet" if int(factor.value) == 0 else f"{label} engagement"
    if factor.feature == "priority":
        return f"{Lead.Priority(int(factor.value)).label} priority"
    if factor.feature == "source":
        return factor.label.replace("Source: ", "Leads from ", 1)
    if factor.feature == "owner":
        user = get_user_model().objects.filter(username=factor.value).first()
        return f"Owned by {full_name(user, str(factor.value))}"
    if factor.feature == "value":
        return f"Deal worth {float(factor.value):,.0f}"
    if factor.feature.startswith("attr_"):
        return factor.label.replace(" = ", ": ", 1)
    return factor.label


def group(factors: list[Factor]) -> list[Group]:
    """The material reasons in the groups people think in, largest first in each; surprises explained."""
    groups: dict[str, Group] = {}
    for factor in factors:
        if abs(factor.effect) < MATERIAL_POINTS:
            continue
        why = ""
        if sounds(factor.feature, factor.value) * factor.effect < 0:
            why = team_evidence(factor.feature, factor.value, factor.effect > 0)
            if not why:
                continue
        title = GROUPS.get(factor.feature, "Other details")
        groups.setdefault(title, Group(title)).reasons.append(Reason(wording(factor), factor.effect, why))
    for item in groups.values():
        item.reasons.sort(key=lambda r: -abs(r.effect))
    return [groups[title] for title in GROUP_ORDER if title in groups]
