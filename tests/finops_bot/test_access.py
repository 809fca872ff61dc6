"""The access policy: [access] validated once, and the one decision of what an audience
may see (admins, scoped members, guests, other workspaces' users; visible, ephemeral, DM,
operator)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_bot.access import (
    OPERATOR,
    AccessPolicy,
    Audience,
    Grant,
    Identity,
    Scope,
    is_admin,
    parse_access,
    scope_for,
)
from finops_bot.errors import ConfigError

POLICY = parse_access(
    {
        "mode": "scoped",
        "admins": ["U0ADMIN", "S0FINOPS"],
        "contact": "#finops-help",
        "grants": [
            {"channel": "C0NLP", "teams": ["nlp"]},
            {"channel": "C0ALL"},
            {"usergroup": "S0VISION", "teams": ["vision"]},
            {"user": "U0ALICE", "projects": ["bert-training"]},
            {"user": "U0GUEST", "projects": ["bert-training"], "providers": ["AWS"]},
        ],
    }
)
ADMIN = Identity("U0ADMIN")
GROUP_ADMIN = Identity("U0CAROL", frozenset({"S0FINOPS"}))
MEMBER = Identity("U0BOB", frozenset({"S0VISION"}))
ALICE = Identity("U0ALICE")
GUEST = Identity("U0GUEST", frozenset({"S0VISION", "S0FINOPS"}), guest=True)
EXTERNAL = Identity("U0ADMIN", external=True)  # an admin's id, but from another workspace


def scope(who, surface, channel=None) -> str:
    return scope_for(POLICY, who, Audience(surface, channel)).describe()


def test_the_policy_parses_and_open_is_the_default():
    assert parse_access(None) == AccessPolicy()
    assert AccessPolicy().open
    assert POLICY.mode == "scoped" and POLICY.contact == "#finops-help"
    assert POLICY.groups() == {"S0FINOPS", "S0VISION"}
    open_policy = AccessPolicy()
    for who in (None, GUEST, EXTERNAL, MEMBER):
        for surface in ("visible", "ephemeral", "dm"):
            assert scope_for(open_policy, who, Audience(surface, "C0NLP")).everything


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("scoped", "[access] must be a table"),
        ({"mode": "closed"}, '[access] mode: give "open" or "scoped"'),
        ({"admin": ["U1"]}, "[access] admin: unknown key"),
        ({"admins": "U0ADMIN"}, "[access] admins: give Slack user or user-group ids"),
        ({"admins": ["alice"]}, "[access] admins"),
        ({"contact": ""}, "[access] contact"),
        ({"grants": {"channel": "C1"}}, "[access] grants: write each as [[access.grants]]"),
        ({"grants": [{"teams": ["nlp"]}]}, "[[access.grants]] #1: give exactly one of"),
        ({"grants": [{"channel": "C1X", "user": "U1X"}]}, "#1: give exactly one of"),
        ({"grants": [{"channel": "#nlp"}]}, "#1: channel = '#nlp' is not a Slack channel id"),
        ({"grants": [{"user": "UABC", "team": ["nlp"]}]}, "#1: team: unknown key"),
        ({"grants": [{"user": "UABC", "teams": "nlp"}]}, "#1: teams: give a list of names"),
        ({"grants": [{"user": "UABC", "teams": []}]}, "#1: teams: give a list of names"),
        ({"grants": [{"user": "UABC"}, {"usergroup": "U0X"}]}, "#2: usergroup = 'U0X'"),
    ],
)
def test_a_bad_key_or_value_is_named_in_one_line(raw, named):
    with pytest.raises(ConfigError) as caught:
        parse_access(raw)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_the_settings_carry_the_policy(tmp_path):
    from finops_bot.config import load_settings

    path = tmp_path / "finops-bot.toml"
    path.write_text(
        '[access]\nmode = "scoped"\nadmins = ["U0ADMIN"]\n'
        '[[access.grants]]\nchannel = "C0NLP"\nteams = ["nlp"]\n'
    )
    settings = load_settings({}, path)
    assert settings.access.mode == "scoped"
    assert settings.access.rules[0].grant == Grant.of({"team": ["nlp"]})
    path.write_text('[access]\nmode = "scoped"\n[[access.grants]]\nuser = "bob"\n')
    with pytest.raises(ConfigError, match="user = 'bob' is not a Slack user id"):
        load_settings({}, path)


def test_admins_see_everything_but_a_visible_post_only_the_channels():
    for admin in (ADMIN, GROUP_ADMIN):
        assert is_admin(POLICY, admin)
        assert scope(admin, "ephemeral", "C0NLP") == "everything"
        assert scope(admin, "dm", "D0X") == "everything"
        assert scope(admin, "visible", "C0NLP") == "team nlp"
        assert scope(admin, "visible", "C0ALL") == "everything"
        assert scope(admin, "visible", "C0RANDOM") == "nothing (no grant)"


def test_a_member_sees_their_groups_and_the_channel_they_ask_in():
    assert scope(MEMBER, "ephemeral", "C0NLP") == "team nlp or vision"
    assert scope(MEMBER, "dm", "D0X") == "team vision"  # a DM: their own grants only
    assert scope(MEMBER, "visible", "C0NLP") == "team nlp"  # never more than the channel's
    assert scope(ALICE, "visible", "C0NLP") == "team nlp"
    assert scope(ALICE, "dm", "D0X") == "project bert-training"
    assert scope(Identity("U0NOBODY"), "dm", "D0X") == "nothing (no grant)"
    assert scope(MEMBER, "visible", "C0RANDOM") == "nothing (no grant)"


def test_guests_and_other_workspaces_get_only_grants_that_name_them():
    assert not is_admin(POLICY, GUEST) and not is_admin(POLICY, EXTERNAL)
    # no group grants, no channel grants: only user = "U0GUEST"
    assert scope(GUEST, "ephemeral", "C0NLP") == "project bert-training, provider AWS"
    assert scope(GUEST, "dm", "D0X") == "project bert-training, provider AWS"
    # visible: the channel's grant met with theirs
    assert scope(GUEST, "visible", "C0NLP") == "project bert-training, provider AWS, team nlp"
    assert scope(GUEST, "visible", "C0RANDOM") == "nothing (no grant)"
    assert scope(EXTERNAL, "ephemeral", "C0ALL") == "nothing (no grant)"
    assert scope(None, "ephemeral", "C0ALL") == "nothing (no grant)"


def test_the_operator_sees_everything():
    for who in (None, GUEST, EXTERNAL):
        assert scope_for(POLICY, who, OPERATOR).everything


def test_grants_meet_and_admit_by_folded_names():
    a = Grant.of({"team": ["NLP", "vision"], "provider": ["Amazon Web Services"]})
    b = Grant.of({"team": ["nlp"], "project": ["bert-training"], "provider": ["aws"]})
    both = a.meet(b)
    assert both == Grant.of(
        {"team": ["NLP"], "project": ["bert-training"], "provider": ["Amazon Web Services"]}
    )
    assert a.meet(Grant.of({"team": ["speech"]})) is None
    assert both.admits({"team": "nlp", "project": "BERT_Training", "provider": "AWS"})
    assert not both.admits({"team": "nlp", "project": "bert-training", "provider": "gcp"})
    assert not both.admits({"team": "nlp", "project": "bert-training"})  # no provider: out
    wide = Scope((Grant(),))
    assert wide.everything and wide.meet(Scope((a,))).describe() == a.describe()
    assert Scope(()).nothing and not Scope(()).admits({"team": "nlp"})


def test_a_refusal_says_what_was_asked_why_what_is_visible_and_whom_to_ask():
    s = scope_for(POLICY, ALICE, Audience("visible", "C0NLP"))
    text = s.refusal("project gpt-secret last month", "it also has spend outside that scope")
    assert text.startswith("“project gpt-secret last month” is outside what this channel may")
    assert "Visible here: team nlp." in text and text.endswith("ask #finops-help.")
    nobody = scope_for(AccessPolicy("scoped"), Identity("U1"), Audience("dm"))
    assert nobody.refusal("total").endswith("To see more, ask a finops-bot admin.")


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(["mode", "admins", "contact", "grants", "channel", "usergroup", "user",
                        "projects", "teams", "owners", "providers", "accounts", "x"])  # fmt: skip
TABLES = st.dictionaries(
    KEYS, VALUES | st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=3), max_size=5
)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(VALUES, TABLES))
def test_any_access_table_parses_or_is_named_in_one_line(raw):
    try:
        policy = parse_access(raw)
    except ConfigError as exc:
        assert str(exc).startswith(("[access]", "[[access.grants]]")) and "\n" not in str(exc)
        return
    for rule in policy.rules:  # what parsed decides without error for anyone, anywhere
        who = Identity("U0X", frozenset(policy.groups()))
        for surface in ("visible", "ephemeral", "dm"):
            scope_for(policy, who, Audience(surface, rule.id)).describe()
