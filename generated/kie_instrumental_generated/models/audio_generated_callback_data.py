from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.callback_track import CallbackTrack


T = TypeVar("T", bound="AudioGeneratedCallbackData")


@_attrs_define
class AudioGeneratedCallbackData:
    """
    Attributes:
        callback_type (str): text, first, complete, or error (failures; KIE's schema enum omits it). A plain string so
            that a new stage never breaks parsing.
        task_id (str):
        data (list[CallbackTrack] | None | Unset): [] for text, null on failure.
    """

    callback_type: str
    task_id: str
    data: list[CallbackTrack] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        callback_type = self.callback_type

        task_id = self.task_id

        data: list[dict[str, Any]] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, list):
            data = []
            for data_type_0_item_data in self.data:
                data_type_0_item = data_type_0_item_data.to_dict()
                data.append(data_type_0_item)

        else:
            data = self.data

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "callbackType": callback_type,
                "task_id": task_id,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.callback_track import CallbackTrack

        d = dict(src_dict)
        callback_type = d.pop("callbackType")

        task_id = d.pop("task_id")

        def _parse_data(data: object) -> list[CallbackTrack] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                data_type_0 = []
                _data_type_0 = data
                for data_type_0_item_data in _data_type_0:
                    data_type_0_item = CallbackTrack.from_dict(data_type_0_item_data)

                    data_type_0.append(data_type_0_item)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CallbackTrack] | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        audio_generated_callback_data = cls(
            callback_type=callback_type,
            task_id=task_id,
            data=data,
        )

        audio_generated_callback_data.additional_properties = d
        return audio_generated_callback_data

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
