from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.add_instrumental_request import AddInstrumentalRequest
from ...models.create_task_response import CreateTaskResponse
from ...models.error_response import ErrorResponse
from ...types import Response


def _get_kwargs(
    *,
    body: AddInstrumentalRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/generate/add-instrumental",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreateTaskResponse | ErrorResponse | None:
    if response.status_code == 200:
        response_200 = CreateTaskResponse.from_dict(response.json())

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
) -> Response[CreateTaskResponse | ErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AddInstrumentalRequest,
) -> Response[CreateTaskResponse | ErrorResponse]:
    """Create an add-instrumental task

     Takes a public URL of an existing audio file (usually a vocal stem or a melody) and
    generates an accompaniment for it. Asynchronous: the answer carries a task id; results
    come by callback to callBackUrl and by polling record-info. Each call costs credits and
    KIE has no idempotency key: a client must not resend a request that may have created a
    task. Generated files are kept 14 days.

    Args:
        body (AddInstrumentalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateTaskResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: AddInstrumentalRequest,
) -> CreateTaskResponse | ErrorResponse | None:
    """Create an add-instrumental task

     Takes a public URL of an existing audio file (usually a vocal stem or a melody) and
    generates an accompaniment for it. Asynchronous: the answer carries a task id; results
    come by callback to callBackUrl and by polling record-info. Each call costs credits and
    KIE has no idempotency key: a client must not resend a request that may have created a
    task. Generated files are kept 14 days.

    Args:
        body (AddInstrumentalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateTaskResponse | ErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AddInstrumentalRequest,
) -> Response[CreateTaskResponse | ErrorResponse]:
    """Create an add-instrumental task

     Takes a public URL of an existing audio file (usually a vocal stem or a melody) and
    generates an accompaniment for it. Asynchronous: the answer carries a task id; results
    come by callback to callBackUrl and by polling record-info. Each call costs credits and
    KIE has no idempotency key: a client must not resend a request that may have created a
    task. Generated files are kept 14 days.

    Args:
        body (AddInstrumentalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateTaskResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: AddInstrumentalRequest,
) -> CreateTaskResponse | ErrorResponse | None:
    """Create an add-instrumental task

     Takes a public URL of an existing audio file (usually a vocal stem or a melody) and
    generates an accompaniment for it. Asynchronous: the answer carries a task id; results
    come by callback to callBackUrl and by polling record-info. Each call costs credits and
    KIE has no idempotency key: a client must not resend a request that may have created a
    task. Generated files are kept 14 days.

    Args:
        body (AddInstrumentalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateTaskResponse | ErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
