import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from vocalis.agents import service
from vocalis.agents.schemas import AgentCreate, AgentRead, AgentUpdate
from vocalis.auth.dependencies import CurrentPrincipal
from vocalis.dependencies import Session
from vocalis.kit.errors import ErrorResponse
from vocalis.kit.pagination import Page, Pagination
from vocalis.models.agent import Agent

router = APIRouter(prefix="/agents", tags=["agents"])

_INVALID_CHOICES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorResponse,
        "description": "Invalid input, or a choice this tenant or installation cannot run: an unknown knowledge "
        "base, a speech model whose packages are missing, the openai LLM without an openai credential",
    }
}


@router.get("", summary="List agents", response_model=Page[AgentRead])
async def list_agents(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    search: Annotated[str | None, Query(max_length=200, description="Only agents whose name contains this")] = None,
) -> Page[AgentRead]:
    agents, total = await service.list_agents(session, principal, search, page)
    return Page.of([AgentRead.model_validate(agent) for agent in agents], total, page)


@router.post(
    "",
    summary="Create an agent",
    response_model=AgentRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        402: {"model": ErrorResponse, "description": "The plan's agent quota is used up"},
        **_INVALID_CHOICES,
    },
)
async def create_agent(data: AgentCreate, session: Session, principal: CurrentPrincipal) -> Agent:
    return await service.create_agent(session, principal, data)


@router.get("/{agent_id}", summary="Get an agent", response_model=AgentRead)
async def get_agent(agent_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> Agent:
    return await service.get_agent(session, principal, agent_id)


@router.patch("/{agent_id}", summary="Update an agent", response_model=AgentRead, responses=_INVALID_CHOICES)
async def update_agent(agent_id: uuid.UUID, data: AgentUpdate, session: Session, principal: CurrentPrincipal) -> Agent:
    return await service.update_agent(session, principal, agent_id, data)


@router.delete("/{agent_id}", summary="Delete an agent", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(agent_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> None:
    await service.delete_agent(session, principal, agent_id)
