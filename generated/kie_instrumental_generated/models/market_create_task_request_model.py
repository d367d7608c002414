from typing import Literal

MarketCreateTaskRequestModel = Literal["ai-music-api/add-instrumental"]

MARKET_CREATE_TASK_REQUEST_MODEL_VALUES: set[MarketCreateTaskRequestModel] = {
    "ai-music-api/add-instrumental",
}


def check_market_create_task_request_model(value: str) -> MarketCreateTaskRequestModel:
    if value in MARKET_CREATE_TASK_REQUEST_MODEL_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {MARKET_CREATE_TASK_REQUEST_MODEL_VALUES!r}"
    )
