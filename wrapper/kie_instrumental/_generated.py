"""The generated client (kie_instrumental_generated), loaded on first use.

Importing the generated models costs as much as the rest of the wrapper together, and nothing
needs them before the first request is built: `import kie_instrumental` stays cheap. mypy sees
the real names through the TYPE_CHECKING imports; at run time `__getattr__` imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._spec import snake_case

if TYPE_CHECKING:
    from kie_instrumental_generated.api.account import get_credits
    from kie_instrumental_generated.api.files import upload_file_stream
    from kie_instrumental_generated.api.market import create_market_task, get_market_task_details
    from kie_instrumental_generated.api.music import add_instrumental, get_task_details
    from kie_instrumental_generated.models.add_instrumental_request import AddInstrumentalRequest
    from kie_instrumental_generated.models.audio_generated_callback import AudioGeneratedCallback
    from kie_instrumental_generated.models.audio_generated_callback_data import (
        AudioGeneratedCallbackData,
    )
    from kie_instrumental_generated.models.callback_track import CallbackTrack
    from kie_instrumental_generated.models.create_task_data import CreateTaskData
    from kie_instrumental_generated.models.create_task_response import CreateTaskResponse
    from kie_instrumental_generated.models.credits_response import CreditsResponse
    from kie_instrumental_generated.models.file_stream_upload_request import FileStreamUploadRequest
    from kie_instrumental_generated.models.file_upload_response import FileUploadResponse
    from kie_instrumental_generated.models.market_create_task_data import MarketCreateTaskData
    from kie_instrumental_generated.models.market_create_task_request import (
        MarketCreateTaskRequest,
    )
    from kie_instrumental_generated.models.market_create_task_response import (
        MarketCreateTaskResponse,
    )
    from kie_instrumental_generated.models.market_record_info_response import (
        MarketRecordInfoResponse,
    )
    from kie_instrumental_generated.models.market_task_callback import MarketTaskCallback
    from kie_instrumental_generated.models.market_task_record import MarketTaskRecord
    from kie_instrumental_generated.models.record_info_response import RecordInfoResponse
    from kie_instrumental_generated.models.suno_track import SunoTrack
    from kie_instrumental_generated.models.task_record import TaskRecord
    from kie_instrumental_generated.models.task_result import TaskResult
    from kie_instrumental_generated.models.uploaded_file import UploadedFile
    from kie_instrumental_generated.types import File

__all__ = [
    "AddInstrumentalRequest",
    "AudioGeneratedCallback",
    "AudioGeneratedCallbackData",
    "CallbackTrack",
    "CreateTaskData",
    "CreateTaskResponse",
    "CreditsResponse",
    "File",
    "FileStreamUploadRequest",
    "FileUploadResponse",
    "MarketCreateTaskData",
    "MarketCreateTaskRequest",
    "MarketCreateTaskResponse",
    "MarketRecordInfoResponse",
    "MarketTaskCallback",
    "MarketTaskRecord",
    "RecordInfoResponse",
    "SunoTrack",
    "TaskRecord",
    "TaskResult",
    "UploadedFile",
    "add_instrumental",
    "create_market_task",
    "get_credits",
    "get_market_task_details",
    "get_task_details",
    "upload_file_stream",
]

_WHERE = {
    "get_credits": "kie_instrumental_generated.api.account.get_credits",
    "upload_file_stream": "kie_instrumental_generated.api.files.upload_file_stream",
    "add_instrumental": "kie_instrumental_generated.api.music.add_instrumental",
    "get_task_details": "kie_instrumental_generated.api.music.get_task_details",
    "create_market_task": "kie_instrumental_generated.api.market.create_market_task",
    "get_market_task_details": "kie_instrumental_generated.api.market.get_market_task_details",
    "File": "kie_instrumental_generated.types",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(name)
    if name in _WHERE:
        module = importlib.import_module(_WHERE[name])
        value = module if module.__name__.endswith(name) else getattr(module, name)
    else:
        module = importlib.import_module(f"kie_instrumental_generated.models.{snake_case(name)}")
        value = getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value
