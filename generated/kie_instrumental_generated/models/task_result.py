from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.suno_track import SunoTrack


T = TypeVar("T", bound="TaskResult")


@_attrs_define
class TaskResult:
    """
    Attributes:
        task_id (None | str | Unset):
        suno_data (list[SunoTrack] | None | Unset):
    """

    task_id: None | str | Unset = UNSET
    suno_data: list[SunoTrack] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id: None | str | Unset
        if isinstance(self.task_id, Unset):
            task_id = UNSET
        else:
            task_id = self.task_id

        suno_data: list[dict[str, Any]] | None | Unset
        if isinstance(self.suno_data, Unset):
            suno_data = UNSET
        elif isinstance(self.suno_data, list):
            suno_data = []
            for suno_data_type_0_item_data in self.suno_data:
                suno_data_type_0_item = suno_data_type_0_item_data.to_dict()
                suno_data.append(suno_data_type_0_item)

        else:
            suno_data = self.suno_data

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if task_id is not UNSET:
            field_dict["taskId"] = task_id
        if suno_data is not UNSET:
            field_dict["sunoData"] = suno_data

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.suno_track import SunoTrack

        d = dict(src_dict)

        def _parse_task_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        task_id = _parse_task_id(d.pop("taskId", UNSET))

        def _parse_suno_data(data: object) -> list[SunoTrack] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                suno_data_type_0 = []
                _suno_data_type_0 = data
                for suno_data_type_0_item_data in _suno_data_type_0:
                    suno_data_type_0_item = SunoTrack.from_dict(
                        suno_data_type_0_item_data
                    )

                    suno_data_type_0.append(suno_data_type_0_item)

                return suno_data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[SunoTrack] | None | Unset, data)

        suno_data = _parse_suno_data(d.pop("sunoData", UNSET))

        task_result = cls(
            task_id=task_id,
            suno_data=suno_data,
        )

        task_result.additional_properties = d
        return task_result

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
