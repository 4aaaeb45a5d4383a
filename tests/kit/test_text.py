import pytest
from httpx import AsyncClient

from tests.factories import register
from vocalis.kit.text import display_text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("invoice\u202eexe.txt", "invoiceexe.txt"),  # right-to-left override
        ("\u2066report\u2069 \u200f2024\u200e", "report 2024"),  # isolates and marks
        ("zero\u200bwidth\ufeff soft\u00adhyphen", "zerowidth softhyphen"),
        ("bell\x07 and\x7f delete\x9b", "bell and delete"),
        ("tab\tnew\nline\u2028end", "tab new line end"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("  Prix été 2024 — Ünïcödé 東京 مرحبا  ", "Prix été 2024 — Ünïcödé 東京 مرحبا"),
        ("\U0001f469\u200d\U0001f4bb notes", "\U0001f469\u200d\U0001f4bb notes"),  # the joiner stays
        # Persian "I want" keeps its non-joiner.
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ],
)
def test_display_text_drops_hidden_characters_and_keeps_normal_text(given: str, shown: str) -> None:
    assert display_text(given) == shown


HIDDEN = "\u202eexe.txt\x1b[31m\r\n"


async def test_names_shown_to_people_lose_hidden_characters_in_every_domain(client: AsyncClient) -> None:
    """Tenant, person, agent and credential names as well as knowledge names (tests/knowledge): one rule."""
    owner = await register(client, tenant_name=f"Acme{HIDDEN}", first_name=f"Ada{HIDDEN}")
    tenant = await client.get("/api/v1/tenants/current", headers=owner.headers)
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    agent = await client.post("/api/v1/agents", json={"name": f"Front desk{HIDDEN}"}, headers=owner.headers)
    credential = await client.post(
        "/api/v1/credentials",
        json={"provider": "openai", "name": f"Main{HIDDEN}", "api_key": "sk-" + "k" * 30},
        headers=owner.headers,
    )
    names = [tenant.json()["name"], me.json()["first_name"], agent.json()["name"], credential.json()["name"]]
    assert names == ["Acmeexe.txt[31m", "Adaexe.txt[31m", "Front deskexe.txt[31m", "Mainexe.txt[31m"]
