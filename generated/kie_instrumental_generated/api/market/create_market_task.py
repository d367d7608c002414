from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.market_create_task_request import MarketCreateTaskRequest
from ...models.market_create_task_response import MarketCreateTaskResponse
from ...types import Response


def _get_kwargs(
    *,
    body: MarketCreateTaskRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/jobs/createTask",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | MarketCreateTaskResponse | None:
    if response.status_code == 200:
        response_200 = MarketCreateTaskResponse.from_dict(response.json())

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
) -> Response[ErrorResponse | MarketCreateTaskResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: MarketCreateTaskRequest,
) -> Response[ErrorResponse | MarketCreateTaskResponse]:
    """Create an add-instrumental task on KIE's Market route

     KIE's unified Market route (docs.kie.ai, since about September 2026) for the same
    operation as /api/v1/generate/add-instrumental: `model` names the operation,
    `input` carries its fields in snake_case with the same rules as the per-endpoint
    route, and `callBackUrl` is optional ("if omitted, no callback is sent"). Asynchronous:
    the answer carries a task id; the result comes by one callback when the task ends and
    by polling jobs/recordInfo. Each call costs credits and KIE has no idempotency key.

    Sources: KIE's docs OpenAPI fragment as captured by third parties on 2026-10-07 (the
    body); recorded answers of this route for other models (2026-04, the envelope with
    `taskId` and `recordId`). Body codes listed by KIE's Market pages: 200, 401, 402, 404,
    422, 429, 433, 455, 500, 501, 505.

    Decisions on what KIE does not document: a task is read on the route that created it
    (whether the other route knows it is undocumented); the Market route's limit of 10
    polls per second per key is below the client's default rate limit, so the same
    limiter and poll schedule serve both routes.

    Args:
        body (MarketCreateTaskRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | MarketCreateTaskResponse]
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
    body: MarketCreateTaskRequest,
) -> ErrorResponse | MarketCreateTaskResponse | None:
    """Create an add-instrumental task on KIE's Market route

     KIE's unified Market route (docs.kie.ai, since about September 2026) for the same
    operation as /api/v1/generate/add-instrumental: `model` names the operation,
    `input` carries its fields in snake_case with the same rules as the per-endpoint
    route, and `callBackUrl` is optional ("if omitted, no callback is sent"). Asynchronous:
    the answer carries a task id; the result comes by one callback when the task ends and
    by polling jobs/recordInfo. Each call costs credits and KIE has no idempotency key.

    Sources: KIE's docs OpenAPI fragment as captured by third parties on 2026-10-07 (the
    body); recorded answers of this route for other models (2026-04, the envelope with
    `taskId` and `recordId`). Body codes listed by KIE's Market pages: 200, 401, 402, 404,
    422, 429, 433, 455, 500, 501, 505.

    Decisions on what KIE does not document: a task is read on the route that created it
    (whether the other route knows it is undocumented); the Market route's limit of 10
    polls per second per key is below the client's default rate limit, so the same
    limiter and poll schedule serve both routes.

    Args:
        body (MarketCreateTaskRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | MarketCreateTaskResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: MarketCreateTaskRequest,
) -> Response[ErrorResponse | MarketCreateTaskResponse]:
    """Create an add-instrumental task on KIE's Market route

     KIE's unified Market route (docs.kie.ai, since about September 2026) for the same
    operation as /api/v1/generate/add-instrumental: `model` names the operation,
    `input` carries its fields in snake_case with the same rules as the per-endpoint
    route, and `callBackUrl` is optional ("if omitted, no callback is sent"). Asynchronous:
    the answer carries a task id; the result comes by one callback when the task ends and
    by polling jobs/recordInfo. Each call costs credits and KIE has no idempotency key.

    Sources: KIE's docs OpenAPI fragment as captured by third parties on 2026-10-07 (the
    body); recorded answers of this route for other models (2026-04, the envelope with
    `taskId` and `recordId`). Body codes listed by KIE's Market pages: 200, 401, 402, 404,
    422, 429, 433, 455, 500, 501, 505.

    Decisions on what KIE does not document: a task is read on the route that created it
    (whether the other route knows it is undocumented); the Market route's limit of 10
    polls per second per key is below the client's default rate limit, so the same
    limiter and poll schedule serve both routes.

    Args:
        body (MarketCreateTaskRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | MarketCreateTaskResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: MarketCreateTaskRequest,
) -> ErrorResponse | MarketCreateTaskResponse | None:
    """Create an add-instrumental task on KIE's Market route

     KIE's unified Market route (docs.kie.ai, since about September 2026) for the same
    operation as /api/v1/generate/add-instrumental: `model` names the operation,
    `input` carries its fields in snake_case with the same rules as the per-endpoint
    route, and `callBackUrl` is optional ("if omitted, no callback is sent"). Asynchronous:
    the answer carries a task id; the result comes by one callback when the task ends and
    by polling jobs/recordInfo. Each call costs credits and KIE has no idempotency key.

    Sources: KIE's docs OpenAPI fragment as captured by third parties on 2026-10-07 (the
    body); recorded answers of this route for other models (2026-04, the envelope with
    `taskId` and `recordId`). Body codes listed by KIE's Market pages: 200, 401, 402, 404,
    422, 429, 433, 455, 500, 501, 505.

    Decisions on what KIE does not document: a task is read on the route that created it
    (whether the other route knows it is undocumented); the Market route's limit of 10
    polls per second per key is below the client's default rate limit, so the same
    limiter and poll schedule serve both routes.

    Args:
        body (MarketCreateTaskRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | MarketCreateTaskResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
