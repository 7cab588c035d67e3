"""A firm's service packages as issued, and the policies it matches today
(``crm.policies``)."""

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from crm.api.schemas import Answer, PageInfo, Request, UtcTime
from crm.policies.attributes import ATTRIBUTES, OPERATORS
from crm.policies.matching import MET, OUTCOMES, UNKNOWN, UNMET
from crm.policies.models import CHANNELS, KINDS, LEVELS

# -- packages -------------------------------------------------------------------------------


class PackageReasonOut(Answer):
    status: Literal[MET, UNMET, UNKNOWN]
    text: str = Field(description="The criterion and the firm's value, in Chinese, as issued.")


class PackagePolicyOut(Answer):
    id: int
    part: Literal["universal", "individual"] = Field(
        description="universal 普惠政策包 or individual 个性政策包: the part it was issued in."
    )
    title: str
    issuer: str
    doc_number: str = Field(description="文号.")
    kind: Literal[KINDS]
    level: Literal[LEVELS]
    benefits: str
    how_to_apply: str
    no_application: bool = Field(description="免申即享: granted without applying.")
    effective_to: date | None
    reasons: list[PackageReasonOut]
    review_conditions: list[str]


class PackageOut(Answer):
    id: int
    number: int = Field(description="The firm's package version, from 1.")
    as_of: date = Field(description="The day the policies were matched.")
    issued_at: UtcTime
    channel: Literal[CHANNELS]
    acknowledged_at: UtcTime | None = Field(description="签收: when the firm acknowledged it.")
    policies: list[PackagePolicyOut]
    pdf: str = Field(description="Where to download the package as a PDF.")


class PackagePage(PageInfo):
    items: list[PackageOut]


# -- matched policies -----------------------------------------------------------------------


class MatchQuery(Request):
    model_config = ConfigDict(extra="ignore")  # as a list's query: ?lang=en passes

    on: date | None = Field(None, description="The day to match on; default today (Shanghai).")
    outcome: Literal[OUTCOMES] | None = Field(
        None,
        description="Only this outcome; by default every outcome but not_eligible.",
    )


class ReasonOut(Answer):
    attribute: Literal[tuple(ATTRIBUTES)]
    operator: Literal[tuple(OPERATORS)]
    value: Any = Field(description="The criterion's value (a list for in, prefix, between …).")
    status: Literal[MET, UNMET, UNKNOWN]
    firm_value: Any = Field(description="The firm's value; null when it is not on record.")
    text: str = Field(description="The reason as a sentence, in the request's language.")


class MatchOut(Answer):
    policy_id: int
    title: str
    issuer: str
    doc_number: str
    kind: Literal[KINDS]
    level: Literal[LEVELS]
    no_application: bool
    effective_to: date | None
    outcome: Literal[OUTCOMES]
    summary: str = Field(description="Why the outcome is what it is, in one line.")
    reasons: list[ReasonOut]
    review_conditions: list[str]


class MatchList(Answer):
    on: date
    items: list[MatchOut]
