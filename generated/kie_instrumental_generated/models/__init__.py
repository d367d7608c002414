"""Contains all the data models used in inputs/outputs"""

from .add_instrumental_request import AddInstrumentalRequest
from .add_instrumental_request_vocal_gender import AddInstrumentalRequestVocalGender
from .audio_generated_callback import AudioGeneratedCallback
from .audio_generated_callback_data import AudioGeneratedCallbackData
from .callback_track import CallbackTrack
from .create_task_data import CreateTaskData
from .create_task_response import CreateTaskResponse
from .credits_response import CreditsResponse
from .error_response import ErrorResponse
from .file_stream_upload_request import FileStreamUploadRequest
from .file_upload_response import FileUploadResponse
from .market_add_instrumental_input import MarketAddInstrumentalInput
from .market_add_instrumental_input_vocal_gender import (
    MarketAddInstrumentalInputVocalGender,
)
from .market_create_task_data import MarketCreateTaskData
from .market_create_task_request import MarketCreateTaskRequest
from .market_create_task_request_model import MarketCreateTaskRequestModel
from .market_create_task_response import MarketCreateTaskResponse
from .market_record_info_response import MarketRecordInfoResponse
from .market_suno_result import MarketSunoResult
from .market_task_callback import MarketTaskCallback
from .market_task_record import MarketTaskRecord
from .record_info_response import RecordInfoResponse
from .suno_model import SunoModel
from .suno_track import SunoTrack
from .task_record import TaskRecord
from .task_result import TaskResult
from .uploaded_file import UploadedFile

__all__ = (
    "AddInstrumentalRequest",
    "AddInstrumentalRequestVocalGender",
    "AudioGeneratedCallback",
    "AudioGeneratedCallbackData",
    "CallbackTrack",
    "CreateTaskData",
    "CreateTaskResponse",
    "CreditsResponse",
    "ErrorResponse",
    "FileStreamUploadRequest",
    "FileUploadResponse",
    "MarketAddInstrumentalInput",
    "MarketAddInstrumentalInputVocalGender",
    "MarketCreateTaskData",
    "MarketCreateTaskRequest",
    "MarketCreateTaskRequestModel",
    "MarketCreateTaskResponse",
    "MarketRecordInfoResponse",
    "MarketSunoResult",
    "MarketTaskCallback",
    "MarketTaskRecord",
    "RecordInfoResponse",
    "SunoModel",
    "SunoTrack",
    "TaskRecord",
    "TaskResult",
    "UploadedFile",
)
