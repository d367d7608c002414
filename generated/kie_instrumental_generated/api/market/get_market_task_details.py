from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.market_record_info_response import MarketRecordInfoResponse
from ...types import UNSET, Response


def _get_kwargs(
    *,
    task_id: str,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["taskId"] = task_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/jobs/recordInfo",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | MarketRecordInfoResponse | None:
    if response.status_code == 200:
        response_200 = MarketRecordInfoResponse.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorResponse.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorResponse | MarketRecordInfoResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    task_id: str,
) -> Response[ErrorResponse | MarketRecordInfoResponse]:
    """Get a Market task's details (polling)

     At most 10 requests per second per key; KIE suggests polling every 2-3 s for the first
    30 s, 5-10 s up to 2 minutes, 15-30 s after, and giving up after 10-15 minutes. The
    project's client uses the same schedule as on the per-endpoint route. An unknown task
    id answers body code 422 with `msg: recordInfo is null` and `data: null` (seen live);
    the client reports it as not found.

    Args:
        task_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | MarketRecordInfoResponse]
    """

    kwargs = _get_kwargs(
        task_id=task_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    task_id: str,
) -> ErrorResponse | MarketRecordInfoResponse | None:
    """Get a Market task's details (polling)

     At most 10 requests per second per key; KIE suggests polling every 2-3 s for the first
    30 s, 5-10 s up to 2 minutes, 15-30 s after, and giving up after 10-15 minutes. The
    project's client uses the same schedule as on the per-endpoint route. An unknown task
    id answers body code 422 with `msg: recordInfo is null` and `data: null` (seen live);
    the client reports it as not found.

    Args:
        task_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | MarketRecordInfoResponse
    """

    return sync_detailed(
        client=client,
        task_id=task_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    task_id: str,
) -> Response[ErrorResponse | MarketRecordInfoResponse]:
    """Get a Market task's details (polling)

     At most 10 requests per second per key; KIE suggests polling every 2-3 s for the first
    30 s, 5-10 s up to 2 minutes, 15-30 s after, and giving up after 10-15 minutes. The
    project's client uses the same schedule as on the per-endpoint route. An unknown task
    id answers body code 422 with `msg: recordInfo is null` and `data: null` (seen live);
    the client reports it as not found.

    Args:
        task_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | MarketRecordInfoResponse]
    """

    kwargs = _get_kwargs(
        task_id=task_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    task_id: str,
) -> ErrorResponse | MarketRecordInfoResponse | None:
    """Get a Market task's details (polling)

     At most 10 requests per second per key; KIE suggests polling every 2-3 s for the first
    30 s, 5-10 s up to 2 minutes, 15-30 s after, and giving up after 10-15 minutes. The
    project's client uses the same schedule as on the per-endpoint route. An unknown task
    id answers body code 422 with `msg: recordInfo is null` and `data: null` (seen live);
    the client reports it as not found.

    Args:
        task_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | MarketRecordInfoResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            task_id=task_id,
        )
    ).parsed
