from typing import Literal

AddInstrumentalRequestModel = Literal["V4_5PLUS", "V5", "V5_5"]

ADD_INSTRUMENTAL_REQUEST_MODEL_VALUES: set[AddInstrumentalRequestModel] = {
    "V4_5PLUS",
    "V5",
    "V5_5",
}


def check_add_instrumental_request_model(value: str) -> AddInstrumentalRequestModel:
    if value in ADD_INSTRUMENTAL_REQUEST_MODEL_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {ADD_INSTRUMENTAL_REQUEST_MODEL_VALUES!r}"
    )
