from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="MarketTaskRecord")


@_attrs_define
class MarketTaskRecord:
    """A Market task as jobs/recordInfo reports it; also the `data` of the Market callback.

    Attributes:
        task_id (str):
        state (str): waiting, queuing and generating mean running; success and fail are terminal. A
            plain string, not an enum, so that a new server value never breaks parsing.
        model (None | str | Unset): The Market operation (ai-music-api/add-instrumental for this API).
        param (None | str | Unset): The original request as a JSON string, whose `input` may itself be a JSON string.
        result_json (None | str | Unset): The result as a JSON *string*; empty until the task is done. No KIE page
            documents
            it for Suno. Measured with a real key on 2026-10-06 (add-instrumental, V6_MINI) it
            is `{"data": [song, song]}`, each song shaped like MarketSunoResult's items. Other
            Market models use `{"resultUrls": [...]}` or `{"resultObject": {...}}`. Decision:
            the client reads songs from `data`, falling back to `sunoData`, `songs`, a
            `resultObject` holding one of those, or a bare list; a success whose result
            cannot be read this way is reported as an error saying the task is paid for.
        fail_code (int | None | str | Unset): Documented as a string or null; an integer is tolerated.
        fail_msg (None | str | Unset):
        cost_time (int | None | Unset): Milliseconds, null until done.
        complete_time (int | None | Unset): Epoch milliseconds, null until done.
        create_time (int | None | Unset): Epoch milliseconds.
        update_time (int | None | Unset): Epoch milliseconds (absent from some recorded answers).
    """

    task_id: str
    state: str
    model: None | str | Unset = UNSET
    param: None | str | Unset = UNSET
    result_json: None | str | Unset = UNSET
    fail_code: int | None | str | Unset = UNSET
    fail_msg: None | str | Unset = UNSET
    cost_time: int | None | Unset = UNSET
    complete_time: int | None | Unset = UNSET
    create_time: int | None | Unset = UNSET
    update_time: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        state = self.state

        model: None | str | Unset
        if isinstance(self.model, Unset):
            model = UNSET
        else:
            model = self.model

        param: None | str | Unset
        if isinstance(self.param, Unset):
            param = UNSET
        else:
            param = self.param

        result_json: None | str | Unset
        if isinstance(self.result_json, Unset):
            result_json = UNSET
        else:
            result_json = self.result_json

        fail_code: int | None | str | Unset
        if isinstance(self.fail_code, Unset):
            fail_code = UNSET
        else:
            fail_code = self.fail_code

        fail_msg: None | str | Unset
        if isinstance(self.fail_msg, Unset):
            fail_msg = UNSET
        else:
            fail_msg = self.fail_msg

        cost_time: int | None | Unset
        if isinstance(self.cost_time, Unset):
            cost_time = UNSET
        else:
            cost_time = self.cost_time

        complete_time: int | None | Unset
        if isinstance(self.complete_time, Unset):
            complete_time = UNSET
        else:
            complete_time = self.complete_time

        create_time: int | None | Unset
        if isinstance(self.create_time, Unset):
            create_time = UNSET
        else:
            create_time = self.create_time

        update_time: int | None | Unset
        if isinstance(self.update_time, Unset):
            update_time = UNSET
        else:
            update_time = self.update_time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "taskId": task_id,
                "state": state,
            }
        )
        if model is not UNSET:
            field_dict["model"] = model
        if param is not UNSET:
            field_dict["param"] = param
        if result_json is not UNSET:
            field_dict["resultJson"] = result_json
        if fail_code is not UNSET:
            field_dict["failCode"] = fail_code
        if fail_msg is not UNSET:
            field_dict["failMsg"] = fail_msg
        if cost_time is not UNSET:
            field_dict["costTime"] = cost_time
        if complete_time is not UNSET:
            field_dict["completeTime"] = complete_time
        if create_time is not UNSET:
            field_dict["createTime"] = create_time
        if update_time is not UNSET:
            field_dict["updateTime"] = update_time

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        task_id = d.pop("taskId")

        state = d.pop("state")

        def _parse_model(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model = _parse_model(d.pop("model", UNSET))

        def _parse_param(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        param = _parse_param(d.pop("param", UNSET))

        def _parse_result_json(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        result_json = _parse_result_json(d.pop("resultJson", UNSET))

        def _parse_fail_code(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        fail_code = _parse_fail_code(d.pop("failCode", UNSET))

        def _parse_fail_msg(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fail_msg = _parse_fail_msg(d.pop("failMsg", UNSET))

        def _parse_cost_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        cost_time = _parse_cost_time(d.pop("costTime", UNSET))

        def _parse_complete_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        complete_time = _parse_complete_time(d.pop("completeTime", UNSET))

        def _parse_create_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        create_time = _parse_create_time(d.pop("createTime", UNSET))

        def _parse_update_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        update_time = _parse_update_time(d.pop("updateTime", UNSET))

        market_task_record = cls(
            task_id=task_id,
            state=state,
            model=model,
            param=param,
            result_json=result_json,
            fail_code=fail_code,
            fail_msg=fail_msg,
            cost_time=cost_time,
            complete_time=complete_time,
            create_time=create_time,
            update_time=update_time,
        )

        market_task_record.additional_properties = d
        return market_task_record

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
