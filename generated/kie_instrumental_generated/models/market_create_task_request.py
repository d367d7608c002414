from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.market_create_task_request_model import (
    MarketCreateTaskRequestModel,
    check_market_create_task_request_model,
)
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.market_add_instrumental_input import MarketAddInstrumentalInput


T = TypeVar("T", bound="MarketCreateTaskRequest")


@_attrs_define
class MarketCreateTaskRequest:
    """
    Attributes:
        model (MarketCreateTaskRequestModel): The Market operation; always ai-music-api/add-instrumental here.
        input_ (MarketAddInstrumentalInput): The per-endpoint route's fields in snake_case, with the same rules
            (required list per
            KIE's docs OpenAPI as captured 2026-10-07; the caps are this project's decisions, as
            on the per-endpoint route).
        call_back_url (str | Unset): Where KIE POSTs the callback when the task ends. Optional on this route; without it
            no callback is sent.
    """

    model: MarketCreateTaskRequestModel
    input_: MarketAddInstrumentalInput
    call_back_url: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        model: str = self.model

        input_ = self.input_.to_dict()

        call_back_url = self.call_back_url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model": model,
                "input": input_,
            }
        )
        if call_back_url is not UNSET:
            field_dict["callBackUrl"] = call_back_url

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.market_add_instrumental_input import MarketAddInstrumentalInput

        d = dict(src_dict)
        model = check_market_create_task_request_model(d.pop("model"))

        input_ = MarketAddInstrumentalInput.from_dict(d.pop("input"))

        call_back_url = d.pop("callBackUrl", UNSET)

        market_create_task_request = cls(
            model=model,
            input_=input_,
            call_back_url=call_back_url,
        )

        return market_create_task_request
