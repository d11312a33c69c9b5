"""The crossing state machine as a Hypothesis rule-based machine, against the real contracts.

The machine keeps a pure-Python model of the rules (ICrossingLedger's and IChildRegistry's
NatSpec), drives ChildRegistry and CrossingLedger on the embedded chain (anvil is covered by
the rest of the contract suite), and after every step compares the model with ``getRequest``
for every request of the run. Every refusal the model predicts is asserted by its error class
and arguments; every accepted action by its events.

Time: the contracts read ``block.timestamp``, which a test cannot fix in advance (a block is
stamped ``max(parent + 1, wall clock + offset)``). So the model takes the moment an action runs
as an argument. A mined transaction gives its exact moment, its block's; a refusal found by the
gas estimate happened between the latest block + 1 and the next block mined after it, and it
must be what the model says at one end of that window: only the expiry checks depend on the
moment, and they are monotone in it.

Shape: one rule, ``someone_acts``, with the action as an argument and labelled draws for what
the action needs. Hypothesis's swarm testing leaves a random subset of rules out of each run;
with a rule per action or per actor, many runs of this expensive machine (a mined transaction
costs about 0.3 s here) lost every way to open or to decide a request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger_client.contracts.reverts import (
    ChildRegistryInvalidPolicy,
    CrossingLedgerAlreadyDecided,
    CrossingLedgerInvalidCourtOrder,
    CrossingLedgerInvalidExpiry,
    CrossingLedgerNoApprovalNeeded,
    CrossingLedgerNotApproved,
    CrossingLedgerNotGuardian,
    CrossingLedgerRequestClosed,
    CrossingLedgerRequestExpired,
    CrossingLedgerRequestNotPending,
    CrossingLedgerRulesChanged,
    CrossingLedgerUnknownRequest,
    CustomContractError,
)
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.types import (
    ChildId,
    ChildStatus,
    Direction,
    Outcome,
    PolicyKind,
    RequestId,
    RequestStatus,
)
from ledger_client.contracts.wrappers import GuardianKey, Policy, RequestState, _Wrapper
from ledger_client.errors import TransactionFailedError
from ledger_client.keys import LocalSigner
from tests.conftest import World
from tests.integration.contract_helpers import (
    APPROVED,
    CROSSED,
    DENIED,
    EXPIRED,
    OVERRIDDEN,
    PENDING,
    TURNED_BACK,
    ZERO32,
    Between,
    Child,
    Desk,
    Guardian,
    _normal_args,
    assert_events,
    event,
    guardian_added,
    guardian_decided,
    guardian_removed,
    requested,
    reverts,
    shared_world,
)

CLOSED = (CROSSED, TURNED_BACK)
COURT_ORDER = keccak(text="Tribunalul Maramures 77/2025")
MAX_GUARDIANS = 4
POOL = MAX_GUARDIANS + 2  # accounts that may guard the child: two or more are always outsiders
MAX_REQUESTS = 10  # per run, so that the comparison after each step stays cheap
MAX_OPEN = 3  # requests neither closed nor expired at a time

PICK = st.integers(min_value=0, max_value=255)
# k-of-n thresholds above the guardian count are capped at it.
POLICIES = st.sampled_from(
    [Policy(PolicyKind.ANY), Policy(PolicyKind.ALL)]
    + [Policy(PolicyKind.K_OF_N, k) for k in range(1, MAX_GUARDIANS + 1)]
)
# Exits are the requests with a state machine; entries start approved and only await an outcome.
DIRECTIONS = st.sampled_from([Direction.EXIT, Direction.EXIT, Direction.ENTRY])
COMPANIONS = st.sampled_from(["nobody", "a stranger", "a guardian"])
# 1..3600 s, drawn from the top down: Hypothesis favours small draws, and most requests should
# live long enough to be decided.
LIFETIME = st.integers(min_value=0, max_value=3599).map(lambda shorter: 3600 - shorter)
SECONDS = st.integers(min_value=1, max_value=120)

# What someone can do at a step: the handler, its options and a weight (the entry is repeated
# in the strategy). Hypothesis draws the ends of a `sampled_from` more often than the middle,
# and fills a run with the first entry once its choices run out: cheap time comes first and a
# guardian's approval last. Requests and approvals outweigh what closes a request, so that runs
# keep requests to decide.
ACTIONS: dict[str, tuple[str, dict[str, Any], int]] = {
    "time passes": ("time_passes", {"past_an_expiry": False}, 1),
    "time passes an expiry": ("time_passes", {"past_an_expiry": True}, 1),
    "someone acts on an unknown request": ("unknown_request", {}, 1),
    "the registrar adds a guardian": ("registrar_changes", {"change": "add"}, 1),
    "the registrar removes a guardian": ("registrar_changes", {"change": "remove"}, 1),
    "the registrar changes the policy": ("registrar_changes", {"change": "policy"}, 1),
    "the officer requests a crossing": ("officer_requests", {"again": False}, 2),
    "the officer asks again": ("officer_requests", {"again": True}, 1),
    "the officer records a crossing": ("officer_records", {"crossed": True}, 2),
    "the officer turns the child back": ("officer_records", {"crossed": False}, 1),
    "child protection co-approves": ("protection_decides", {"approve": True}, 2),
    "child protection denies": ("protection_decides", {"approve": False}, 1),
    "a court order overrides": ("court_overrides", {"with_order": True}, 1),
    "an override without a court order": ("court_overrides", {"with_order": False}, 1),
    "a guardian denies": ("guardian_decides", {"approve": False, "relayed": False}, 1),
    "a signed denial is relayed": ("guardian_decides", {"approve": False, "relayed": True}, 1),
    "a signed approval is relayed": ("guardian_decides", {"approve": True, "relayed": True}, 2),
    "a guardian approves": ("guardian_decides", {"approve": True, "relayed": False}, 3),
}
WEIGHTED_ACTIONS = st.sampled_from(
    [action for action, (_, _, weight) in ACTIONS.items() for _ in range(weight)]
)

SETTINGS = settings(
    max_examples=18,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a step costs up to 0.3 s of mining, and Hypothesis gives up shrinking after
    # five minutes, far from a minimal run. A failing run prints its steps and labelled draws.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """A refusal the model predicts: the error's class and all of its arguments."""

    error: type[CustomContractError]
    arguments: dict[str, Any]

    def matches(self, caught: CustomContractError, earliest: int, latest: int) -> bool:
        # A reported `currentTime` is the block the estimate ran in: anywhere in the window.
        arguments = dict(self.arguments)
        if "currentTime" in arguments:
            arguments["currentTime"] = Between(earliest, latest)
        same_arguments = _normal_args(caught.arguments) == _normal_args(arguments)
        return type(caught) is self.error and same_arguments


def refused(error: type[CustomContractError], **arguments: Any) -> Refused:
    return Refused(error, arguments)


Prediction = Callable[[int], Refused | None]


def required_approvals(policy: Policy, guardian_count: int) -> int:
    if policy.kind is PolicyKind.ANY:
        return 1
    if policy.kind is PolicyKind.ALL:
        return guardian_count
    return policy.threshold


def reachable(policy: Policy, guardian_count: int) -> Policy:
    if policy.kind is PolicyKind.K_OF_N:
        return Policy(policy.kind, min(policy.threshold, guardian_count))
    return policy


@dataclass
class ModelRequest:
    request_id: RequestId
    direction: Direction
    companion: bytes
    expires_at: int
    revision: int  # the child's rules revision when the request was opened
    required: int  # approvals the rules asked for when it was opened
    deciders: int  # distinct deciders whose approval can count: protection + non-companions
    status: RequestStatus  # as stored: never EXPIRED
    approvals: int = 0
    guardian_approved: bool = False
    protection_decided: bool = False
    family_rule_applied: bool = False
    decided: set[str] = field(default_factory=set)  # guardians whose approval left it pending
    # What the chain showed after each step, and where a crossing came from, for the invariants.
    seen: list[RequestState] = field(default_factory=list)
    crossed_from: RequestStatus | None = None
    crossed_at: int | None = None

    def status_at(self, moment: int) -> RequestStatus:
        if self.status in (PENDING, APPROVED) and moment > self.expires_at:
            return EXPIRED
        return self.status


class CrossingMachine(RuleBasedStateMachine):
    """One child, its guardians and policy, and the crossing requests of one run."""

    desk: Desk
    pool: tuple[LocalSigner, ...]
    senders: dict[str, TransactionSender]

    def __init__(self) -> None:
        super().__init__()
        self.child: Child | None = None
        self.everyone: dict[str, Guardian] = {}  # the pool, with this run's documents
        self.guardians: dict[str, bytes] = {}  # current guardian -> document commitment
        self.policy = Policy(PolicyKind.ANY)
        self.revision = 0
        self.requests: list[ModelRequest] = []
        self.latest = 0  # the latest block's timestamp at the last comparison

    @property
    def child_id(self) -> ChildId:
        assert self.child is not None
        return self.child.child_id

    # ---- driving the chain -------------------------------------------------------------------

    def block_time(self, block: int | str = "latest") -> int:
        return int(self.desk.w3.eth.get_block(block)["timestamp"])

    def try_action(
        self, send: Callable[[], TxReceipt], predict: Prediction
    ) -> tuple[TxReceipt | None, int]:
        """Runs an action and checks the contract's answer against ``predict(moment)``.

        Returns the receipt (None when the contract refused, as the model expected) and the
        moment the action ran at (for a refusal, the latest it can have run at).
        """
        earliest = self.block_time() + 1
        receipt: TxReceipt | None = None
        outcome: CustomContractError | TransactionFailedError | None = None
        try:
            receipt = send()
        except (CustomContractError, TransactionFailedError) as error:
            outcome = error
        if isinstance(outcome, CustomContractError):
            # The estimate ran no later than the next block: mine one to bound the window.
            self.desk.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            latest = self.block_time()
            expected = [predict(moment) for moment in (earliest, latest)]
            assert any(e is not None and e.matches(outcome, earliest, latest) for e in expected), (
                f"the contract refused with {type(outcome).__name__}{outcome.arguments}, "
                f"the model expected {expected} (moments {earliest}..{latest})"
            )
            return None, latest
        if isinstance(outcome, TransactionFailedError):
            # The estimate passed and the block, a second later, failed: only an expiry can
            # fall between the two, so the model must refuse at the block's moment.
            assert outcome.tx_hash is not None
            mined = self.desk.w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[arg-type]
            moment = self.block_time(mined["blockNumber"])
            assert predict(moment) is not None, f"the model accepts at {moment}: {outcome}"
            return None, moment
        assert receipt is not None
        moment = self.block_time(receipt["blockNumber"])
        expected_refusal = predict(moment)
        assert expected_refusal is None, f"the contract accepted at {moment}: {expected_refusal}"
        return receipt, moment

    # ---- choosing what to act on -------------------------------------------------------------
    # Three picks in four aim where the action can succeed, as the model sees it, so that runs
    # go deep into the machine; the fourth takes any request, to meet the refusals. Each is a
    # labelled draw, so a failing run prints what was picked.

    def pick_request(
        self, data: st.DataObject, aimed: Callable[[ModelRequest], bool]
    ) -> ModelRequest:
        """Mostly an unexpired request the action is aimed at, the latest first; else any."""
        pick = data.draw(PICK, "pick")
        candidates = [r for r in self.requests if r.expires_at > self.latest and aimed(r)]
        chosen = candidates if candidates and pick % 4 != 3 else self.requests
        return chosen[-1 - pick // 4 % len(chosen)]

    def pick_account(self, data: st.DataObject, r: ModelRequest) -> str:
        """Mostly a current guardian who has not decided; sometimes an outsider or a decider."""
        who = data.draw(PICK, "who")
        current = list(self.guardians)
        undecided = [a for a in current if a not in r.decided]
        outsiders = [a for a in self.everyone if a not in self.guardians]
        chosen = {0: outsiders, 1: sorted(r.decided) or current}.get(who % 8, undecided or current)
        return chosen[who // 8 % len(chosen)]

    def may_request(self) -> bool:
        live = [r for r in self.requests if r.status not in CLOSED and r.expires_at > self.latest]
        return len(self.requests) < MAX_REQUESTS and len(live) < MAX_OPEN

    # ---- the model's refusals ----------------------------------------------------------------

    def open_exit_refusal(self, r: ModelRequest, moment: int) -> Refused | None:
        """`_openExitRequest` and the rules check: exit, pending, unexpired, same rules."""
        if r.direction is Direction.ENTRY:
            return refused(CrossingLedgerNoApprovalNeeded, requestId=r.request_id)
        if r.status is not PENDING:
            return refused(CrossingLedgerRequestNotPending, requestId=r.request_id, status=r.status)
        if moment > r.expires_at:
            return refused(
                CrossingLedgerRequestExpired, requestId=r.request_id, expiresAt=r.expires_at
            )
        if self.revision != r.revision:
            return refused(CrossingLedgerRulesChanged, requestId=r.request_id)
        return None

    def settle(self, r: ModelRequest) -> RequestStatus:
        """Approved once the approvals reach the current rules and a guardian approved."""
        enough = r.approvals >= required_approvals(self.policy, len(self.guardians))
        return APPROVED if r.guardian_approved and enough else PENDING

    # ---- rules -------------------------------------------------------------------------------

    @initialize(count=st.sampled_from([2, 3, 1, 4]), policy=POLICIES, data=st.data())
    def register_child(self, count: int, policy: Policy, data: st.DataObject) -> None:
        """Registers a child and asks for its first exit, so every run has a request to decide."""
        self.everyone = {
            s.address: Guardian(s, GuardianKey(s.address, secrets.token_bytes(32)))
            for s in self.pool
        }
        chosen = tuple(self.everyone.values())[:count]
        self.policy = reachable(policy, count)
        self.child = Child(
            ChildId(secrets.token_bytes(16)), secrets.token_bytes(32), chosen, self.policy
        )
        self.desk.registrar.transact(self.desk.registry.register_child(*self.child.as_input()))
        self.guardians = {g.address: g.document for g in chosen}
        self.open_request(Direction.EXIT, self.companion(data), data.draw(LIFETIME, "lifetime"))

    @rule(action=WEIGHTED_ACTIONS, data=st.data())
    def someone_acts(self, action: str, data: st.DataObject) -> None:
        method, options, _ = ACTIONS[action]
        getattr(self, method)(data, **options)

    # -- the border officer

    def officer_requests(self, data: st.DataObject, *, again: bool) -> None:
        if not self.may_request():
            return  # the desk is full: enough requests are open, or the run has had enough
        lifetime = data.draw(LIFETIME, "lifetime")
        if again:
            # Again for an earlier crossing: after a denial, an expiry, a change of rules.
            earlier = self.requests[-1 - data.draw(PICK, "pick") % len(self.requests)]
            self.open_request(earlier.direction, earlier.companion, lifetime)
        else:
            self.open_request(data.draw(DIRECTIONS, "direction"), self.companion(data), lifetime)

    def companion(self, data: st.DataObject) -> bytes:
        current = list(self.guardians.values())
        return {
            "nobody": ZERO32,
            "a stranger": secrets.token_bytes(32),
            "a guardian": current[data.draw(PICK, "who") % len(current)],
        }[data.draw(COMPANIONS, "companion")]

    def open_request(self, direction: Direction, travelling: bytes, lifetime: int) -> None:
        # `lifetime` seconds after the earliest moment the request can be mined at.
        expires_at = self.block_time() + 1 + lifetime

        def predict(moment: int) -> Refused | None:
            if expires_at <= moment:
                return refused(
                    CrossingLedgerInvalidExpiry, expiresAt=expires_at, currentTime=moment
                )
            return None

        call = self.desk.ledger.request_crossing(
            self.child_id, direction, "RO-SIGHET", travelling, expires_at
        )
        receipt, _ = self.try_action(lambda: self.desk.officer.transact(call), predict)
        if receipt is None:
            return
        request_id = self.desk.ledger.request_id_from(receipt)
        assert self.child is not None
        opened = requested(self.desk, request_id, self.child, direction, travelling, expires_at)
        assert_logged(self.desk.ledger, receipt, opened)
        not_travelling = sum(doc != travelling for doc in self.guardians.values())
        self.requests.append(
            ModelRequest(
                request_id=request_id,
                direction=direction,
                companion=travelling,
                expires_at=expires_at,
                revision=self.revision,
                required=required_approvals(self.policy, len(self.guardians)),
                deciders=not_travelling + 1,
                status=PENDING if direction is Direction.EXIT else APPROVED,
            )
        )

    def officer_records(self, data: st.DataObject, *, crossed: bool) -> None:
        cleared = (APPROVED, OVERRIDDEN) if crossed else (PENDING, APPROVED, DENIED, OVERRIDDEN)
        r = self.pick_request(data, lambda r: r.status in cleared)
        outcome = Outcome.CROSSED if crossed else Outcome.TURNED_BACK

        def predict(moment: int) -> Refused | None:
            if r.status in CLOSED:
                return refused(CrossingLedgerRequestClosed, requestId=r.request_id, status=r.status)
            if crossed and r.status not in (APPROVED, OVERRIDDEN):
                return refused(CrossingLedgerNotApproved, requestId=r.request_id, status=r.status)
            if crossed and moment > r.expires_at:
                return refused(
                    CrossingLedgerRequestExpired, requestId=r.request_id, expiresAt=r.expires_at
                )
            return None  # turning a child back is always allowed until the request is closed

        call = self.desk.ledger.record_outcome(r.request_id, outcome)
        receipt, moment = self.try_action(lambda: self.desk.officer.transact(call), predict)
        if receipt is None:
            return
        if crossed:
            r.crossed_from, r.crossed_at = r.seen[-1].status, moment
        r.status = CROSSED if crossed else TURNED_BACK
        args = {"requestId": r.request_id, "childId": self.child_id, "outcome": outcome}
        recorded = event("CrossingRecorded", **args, officer=self.desk.officer.address)
        assert_logged(self.desk.ledger, receipt, recorded)

    # -- the guardians

    def guardian_decides(self, data: st.DataObject, *, approve: bool, relayed: bool) -> None:
        r = self.pick_request(data, lambda r: r.status is PENDING)
        account = self.pick_account(data, r)
        guardian = self.everyone[account]

        def predict(moment: int) -> Refused | None:
            refusal = self.open_exit_refusal(r, moment)
            if refusal is None and account not in self.guardians:
                refusal = refused(
                    CrossingLedgerNotGuardian, requestId=r.request_id, account=account
                )
            if refusal is None and account in r.decided:
                refusal = refused(
                    CrossingLedgerAlreadyDecided, requestId=r.request_id, account=account
                )
            return refusal

        def send() -> TxReceipt:
            ledger = self.desk.ledger
            if relayed:
                deadline, signature = self.desk.sign(guardian, r.request_id, approve)
                call = ledger.decide_by_sig(r.request_id, account, approve, deadline, signature)
                return self.desk.relayer.transact(call)
            return self.senders[account].transact(ledger.decide(r.request_id, approve))

        receipt, _ = self.try_action(send, predict)
        if receipt is None:
            return
        counted = True
        if approve:
            # The family rule: the travelling guardian's approval is set aside.
            counted = r.companion != self.guardians[account]
            r.approvals += counted
            r.family_rule_applied |= not counted
            r.guardian_approved = True
            r.status = self.settle(r)
            if r.status is PENDING:
                r.decided.add(account)
        else:
            r.status = DENIED
        decided = guardian_decided(r.request_id, account, approve, counted, r.status)
        assert_logged(self.desk.ledger, receipt, decided)

    # -- child protection

    def protection_decides(self, data: st.DataObject, *, approve: bool) -> None:
        r = self.pick_request(data, lambda r: r.status is PENDING)
        officer = self.desk.protector.address

        def predict(moment: int) -> Refused | None:
            refusal = self.open_exit_refusal(r, moment)
            if refusal is None and r.protection_decided:
                refusal = refused(
                    CrossingLedgerAlreadyDecided, requestId=r.request_id, account=officer
                )
            return refusal

        call = self.desk.ledger.protection_decide(r.request_id, approve)
        receipt, _ = self.try_action(lambda: self.desk.protector.transact(call), predict)
        if receipt is None:
            return
        r.protection_decided = True
        if approve:
            r.approvals += 1
            r.status = self.settle(r)
        else:
            r.status = DENIED
        args = {"requestId": r.request_id, "officer": officer, "approved": approve}
        decided = event("ProtectionDecided", **args, status=r.status)
        assert_logged(self.desk.ledger, receipt, decided)

    def court_overrides(self, data: st.DataObject, *, with_order: bool) -> None:
        r = self.pick_request(data, lambda r: r.status in (PENDING, DENIED))
        court_order = COURT_ORDER if with_order else ZERO32

        def predict(moment: int) -> Refused | None:
            # Neither the guardians nor the policy bind a court: no RulesChanged here.
            if r.direction is Direction.ENTRY:
                return refused(CrossingLedgerNoApprovalNeeded, requestId=r.request_id)
            if r.status not in (PENDING, DENIED):
                return refused(
                    CrossingLedgerRequestNotPending, requestId=r.request_id, status=r.status
                )
            if moment > r.expires_at:
                return refused(
                    CrossingLedgerRequestExpired, requestId=r.request_id, expiresAt=r.expires_at
                )
            if not with_order:
                return refused(CrossingLedgerInvalidCourtOrder, requestId=r.request_id)
            return None

        call = self.desk.ledger.override_by_court_order(r.request_id, court_order)
        receipt, _ = self.try_action(lambda: self.desk.protector.transact(call), predict)
        if receipt is None:
            return
        r.status = OVERRIDDEN
        args = {"requestId": r.request_id, "officer": self.desk.protector.address}
        overridden = event("CrossingOverridden", **args, courtOrderHash=court_order)
        assert_logged(self.desk.ledger, receipt, overridden)

    # -- the registrar: any change voids the decisions of the requests opened before it

    def registrar_changes(self, data: st.DataObject, *, change: str) -> None:
        registry, registrar = self.desk.registry, self.desk.registrar
        current = list(self.guardians)
        outsiders = [a for a in self.everyone if a not in self.guardians]
        if change == "add" and len(current) < MAX_GUARDIANS:
            added = self.everyone[outsiders[data.draw(PICK, "who") % len(outsiders)]]
            receipt = registrar.transact(registry.add_guardian(self.child_id, added.key))
            expected = guardian_added(self.child_id, added.address, added.document)
            self.guardians[added.address] = added.document
        elif change == "remove":
            removed, remaining = current[data.draw(PICK, "who") % len(current)], len(current) - 1
            call = registry.remove_guardian(self.child_id, removed)
            if remaining == 0 or self.policy.threshold > remaining:
                # A child keeps a guardian, and a k-of-n threshold stays reachable.
                kind, threshold = self.policy.kind, self.policy.threshold
                args = {"kind": kind, "threshold": threshold, "guardianCount": remaining}
                with reverts(ChildRegistryInvalidPolicy, childId=self.child_id, **args):
                    registrar.transact(call)
                return
            receipt = registrar.transact(call)
            expected = guardian_removed(self.child_id, removed)
            del self.guardians[removed]
        else:  # a new policy; also what "add" does when the child has the most guardians
            self.policy = reachable(data.draw(POLICIES, "policy"), len(current))
            receipt = registrar.transact(registry.set_policy(self.child_id, self.policy))
            kind, threshold = self.policy.kind, self.policy.threshold
            expected = event(
                "PolicyChanged", childId=self.child_id, policyKind=kind, threshold=threshold
            )
        assert_logged(registry, receipt, expected)
        self.revision += 1
        record = registry.child_record(self.child_id)
        model = (ChildStatus.ACTIVE, self.policy, len(self.guardians), self.revision)
        assert (record.status, record.policy, record.guardian_count, record.revision) == model

    # -- anyone, on a request that does not exist

    def unknown_request(self, data: st.DataObject) -> None:
        desk, ledger = self.desk, self.desk.ledger
        next_id = int(ledger.contract.functions.nextRequestId().call())
        which = data.draw(st.sampled_from(["zero", "next", "far"]), "which")
        request_id = RequestId({"zero": 0, "next": next_id, "far": 2**64 - 1}[which])
        guardian = self.everyone[next(iter(self.guardians))]
        deadline, signature = desk.sign(guardian, request_id, True)
        actions: dict[str, tuple[TransactionSender, ContractFunction]] = {
            "decide": (self.senders[guardian.address], ledger.decide(request_id, True)),
            "relay": (
                desk.relayer,
                ledger.decide_by_sig(request_id, guardian.address, True, deadline, signature),
            ),
            "protect": (desk.protector, ledger.protection_decide(request_id, True)),
            "override": (desk.protector, ledger.override_by_court_order(request_id, COURT_ORDER)),
            "cross": (desk.officer, ledger.record_outcome(request_id, Outcome.CROSSED)),
            "turn back": (desk.officer, ledger.record_outcome(request_id, Outcome.TURNED_BACK)),
        }
        sender, call = actions[data.draw(st.sampled_from(list(actions)), "action")]
        unknown = refused(CrossingLedgerUnknownRequest, requestId=request_id)
        self.try_action(lambda: sender.transact(call), lambda _moment: unknown)

    # -- time

    def time_passes(self, data: st.DataObject, *, past_an_expiry: bool) -> None:
        running = [r for r in self.requests if r.expires_at >= self.latest]
        if past_an_expiry and running:
            earlier = running[-1 - data.draw(PICK, "pick") % len(running)]
            self.desk.advance_past(earlier.expires_at)
        else:
            self.desk.advance_past(self.block_time() + data.draw(SECONDS, "seconds"))

    # ---- the comparison and the invariants ---------------------------------------------------

    @invariant()
    def the_chain_agrees_with_the_model(self) -> None:
        # `getRequest` runs at the latest block: no block is mined between this read and it.
        self.latest = self.block_time()
        for r in self.requests:
            state = self.desk.ledger.get_request(r.request_id)
            expected = RequestState(
                request_id=r.request_id,
                child_id=self.child_id,
                direction=r.direction,
                status=r.status_at(self.latest),
                expires_at=r.expires_at,
                approvals=r.approvals,
                guardian_approved=r.guardian_approved,
                protection_decided=r.protection_decided,
                family_rule_applied=r.family_rule_applied,
            )
            assert state == expected, f"at {self.latest}: chain {state}, model {expected}"
            r.seen.append(state)
        for r in self.requests:
            self.assert_safety(r)

    def assert_safety(self, r: ModelRequest) -> None:
        """The safety properties, read from what the chain showed rather than from the model."""
        statuses = [s.status for s in r.seen]
        now = r.seen[-1]
        # A crossed child left on an approved or overridden request, before it expired.
        if now.status is CROSSED:
            assert r.crossed_from in (APPROVED, OVERRIDDEN), r
            assert r.crossed_at is not None
            assert r.crossed_at <= r.expires_at, r
        # No exit is approved short of its policy or without a guardian (an entry needs none;
        # an override stands in for the guardians, and its approvals stay what they were).
        if now.status is APPROVED and r.direction is Direction.EXIT:
            assert now.approvals >= r.required, r
            assert now.guardian_approved, r
        # A denial is final, short of a court order.
        if DENIED in statuses:
            assert APPROVED not in statuses[statuses.index(DENIED) :], statuses
        # Each decider counts once: the protection officer and each guardian not travelling.
        assert now.approvals <= r.deciders, r


def assert_logged(
    wrapper: _Wrapper, receipt: TxReceipt, *expected: tuple[str, dict[str, Any]]
) -> None:
    """`assert_events`, asserted here first so that a mismatch shows both lists."""
    found = [(e.name, _normal_args(e.args)) for e in wrapper.events_in(receipt)]
    assert found == list(expected)
    assert_events(wrapper, receipt, *expected)


def bound_machine(desk: Desk, pool: tuple[LocalSigner, ...]) -> type[CrossingMachine]:
    """The machine class bound to one deployment and its funded guardian accounts."""
    senders = {s.address: desk.sender(s) for s in pool}
    attributes = {"desk": desk, "pool": pool, "senders": senders}
    return type("CrossingStateMachine", (CrossingMachine,), attributes)


@pytest.fixture(scope="module", params=["embedded"])
def machine_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A deployment of its own: the machine moves the chain's clock by hours."""
    yield from shared_world(request, tmp_path_factory)


def test_the_crossing_state_machine_follows_its_rules(machine_world: World) -> None:
    desk = Desk(machine_world)
    pool = tuple(desk.guardian(funded=True).signer for _ in range(POOL))
    run_state_machine_as_test(bound_machine(desk, pool), settings=SETTINGS)
