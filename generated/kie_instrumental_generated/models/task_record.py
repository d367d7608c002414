from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.task_result import TaskResult


T = TypeVar("T", bound="TaskRecord")


@_attrs_define
class TaskRecord:
    """
    Attributes:
        task_id (str):
        status (str): PENDING, TEXT_SUCCESS and FIRST_SUCCESS mean running; SUCCESS, CREATE_TASK_FAILED,
            GENERATE_AUDIO_FAILED, CALLBACK_EXCEPTION (only the callback delivery failed; the
            audio usually exists) and SENSITIVE_WORD_ERROR are terminal. A plain string, not an
            enum, so that a new server value never breaks parsing.
        parent_music_id (None | str | Unset):
        param (None | str | Unset): The original request, as a JSON string.
        response (None | TaskResult | Unset):
        type_ (None | str | Unset): Undocumented for this endpoint (KIE's example shows GENERATE); any value is
            accepted.
        operation_type (None | str | Unset): Undocumented for this endpoint; any value is accepted.
        error_code (int | None | str | Unset): Failure code (400, 408, 413, 501 seen), null while running or on success;
            a string is accepted so that a failure is never lost to the code's type.
        error_message (None | str | Unset):
        create_time (float | None | str | Unset): Documented as a string ("2025-01-01 00:00:00", read as UTC); epoch
            milliseconds in every real capture (tracks and the task record).
    """

    task_id: str
    status: str
    parent_music_id: None | str | Unset = UNSET
    param: None | str | Unset = UNSET
    response: None | TaskResult | Unset = UNSET
    type_: None | str | Unset = UNSET
    operation_type: None | str | Unset = UNSET
    error_code: int | None | str | Unset = UNSET
    error_message: None | str | Unset = UNSET
    create_time: float | None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.task_result import TaskResult

        task_id = self.task_id

        status = self.status

        parent_music_id: None | str | Unset
        if isinstance(self.parent_music_id, Unset):
            parent_music_id = UNSET
        else:
            parent_music_id = self.parent_music_id

        param: None | str | Unset
        if isinstance(self.param, Unset):
            param = UNSET
        else:
            param = self.param

        response: dict[str, Any] | None | Unset
        if isinstance(self.response, Unset):
            response = UNSET
        elif isinstance(self.response, TaskResult):
            response = self.response.to_dict()
        else:
            response = self.response

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        operation_type: None | str | Unset
        if isinstance(self.operation_type, Unset):
            operation_type = UNSET
        else:
            operation_type = self.operation_type

        error_code: int | None | str | Unset
        if isinstance(self.error_code, Unset):
            error_code = UNSET
        else:
            error_code = self.error_code

        error_message: None | str | Unset
        if isinstance(self.error_message, Unset):
            error_message = UNSET
        else:
            error_message = self.error_message

        create_time: float | None | str | Unset
        if isinstance(self.create_time, Unset):
            create_time = UNSET
        else:
            create_time = self.create_time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "taskId": task_id,
                "status": status,
            }
        )
        if parent_music_id is not UNSET:
            field_dict["parentMusicId"] = parent_music_id
        if param is not UNSET:
            field_dict["param"] = param
        if response is not UNSET:
            field_dict["response"] = response
        if type_ is not UNSET:
            field_dict["type"] = type_
        if operation_type is not UNSET:
            field_dict["operationType"] = operation_type
        if error_code is not UNSET:
            field_dict["errorCode"] = error_code
        if error_message is not UNSET:
            field_dict["errorMessage"] = error_message
        if create_time is not UNSET:
            field_dict["createTime"] = create_time

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.task_result import TaskResult

        d = dict(src_dict)
        task_id = d.pop("taskId")

        status = d.pop("status")

        def _parse_parent_music_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_music_id = _parse_parent_music_id(d.pop("parentMusicId", UNSET))

        def _parse_param(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        param = _parse_param(d.pop("param", UNSET))

        def _parse_response(data: object) -> None | TaskResult | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_type_0 = TaskResult.from_dict(data)

                return response_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TaskResult | Unset, data)

        response = _parse_response(d.pop("response", UNSET))

        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))

        def _parse_operation_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        operation_type = _parse_operation_type(d.pop("operationType", UNSET))

        def _parse_error_code(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        error_code = _parse_error_code(d.pop("errorCode", UNSET))

        def _parse_error_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_message = _parse_error_message(d.pop("errorMessage", UNSET))

        def _parse_create_time(data: object) -> float | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | str | Unset, data)

        create_time = _parse_create_time(d.pop("createTime", UNSET))

        task_record = cls(
            task_id=task_id,
            status=status,
            parent_music_id=parent_music_id,
            param=param,
            response=response,
            type_=type_,
            operation_type=operation_type,
            error_code=error_code,
            error_message=error_message,
            create_time=create_time,
        )

        task_record.additional_properties = d
        return task_record

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
