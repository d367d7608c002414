from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.market_create_task_data import MarketCreateTaskData


T = TypeVar("T", bound="MarketCreateTaskResponse")


@_attrs_define
class MarketCreateTaskResponse:
    """
    Attributes:
        code (int): Business status; 200 is success, anything else an error with data null.
        msg (str):
        data (MarketCreateTaskData | None | Unset):
    """

    code: int
    msg: str
    data: MarketCreateTaskData | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.market_create_task_data import MarketCreateTaskData

        code = self.code

        msg = self.msg

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, MarketCreateTaskData):
            data = self.data.to_dict()
        else:
            data = self.data

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "msg": msg,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.market_create_task_data import MarketCreateTaskData

        d = dict(src_dict)
        code = d.pop("code")

        msg = d.pop("msg")

        def _parse_data(data: object) -> MarketCreateTaskData | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = MarketCreateTaskData.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MarketCreateTaskData | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        market_create_task_response = cls(
            code=code,
            msg=msg,
            data=data,
        )

        market_create_task_response.additional_properties = d
        return market_create_task_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
