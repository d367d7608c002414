from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.market_task_record import MarketTaskRecord


T = TypeVar("T", bound="MarketTaskCallback")


@_attrs_define
class MarketTaskCallback:
    """
    Attributes:
        code (int): 200 the task succeeded; 501 it failed.
        msg (str):
        data (MarketTaskRecord): A Market task as jobs/recordInfo reports it; also the `data` of the Market callback.
    """

    code: int
    msg: str
    data: MarketTaskRecord
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        msg = self.msg

        data = self.data.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "msg": msg,
                "data": data,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.market_task_record import MarketTaskRecord

        d = dict(src_dict)
        code = d.pop("code")

        msg = d.pop("msg")

        data = MarketTaskRecord.from_dict(d.pop("data"))

        market_task_callback = cls(
            code=code,
            msg=msg,
            data=data,
        )

        market_task_callback.additional_properties = d
        return market_task_callback

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
