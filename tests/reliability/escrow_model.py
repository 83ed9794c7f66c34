"""What the escrow rules say should happen, written apart from escrows/services.py so the state
machine in test_stateful.py checks the services against a second reading of SPEC.md instead of
against themselves: the fee schedule, the order milestones are processed in, the review clock,
and a clock the machine can move forward."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from escrows.models import SETTLED_MILESTONE_STATUSES, Event, Milestone, MilestoneStatus

PENDING, COMPLETED, RELEASED, DISPUTED = (
    MilestoneStatus.PENDING,
    MilestoneStatus.COMPLETED,
    MilestoneStatus.RELEASED,
    MilestoneStatus.DISPUTED,
)

# A second schedule the machine switches to and back: a different rate, minimum and maximum, so
# an escrow edited after the switch must carry the new fee. 2.5% puts an exact half minor unit
# on one amount in 40, which is where a wrong rounding mode shows.
ALTERNATE_FEE_SCHEDULE = {
    "version": "alternate-for-tests",
    "basis_points": 250,
    "min_major": 2,
    "max_major": 40,
}


def fee_under(schedule: dict, amount: int, currency: str) -> int:
    """The fee of `amount` minor units: basis points of the amount rounded half up to the minor
    unit, then held between the schedule's minimum and maximum (whole major units). Integer
    arithmetic only: floor(x + 1/2) with x = amount * bp / 10000."""
    unit = 10 ** dict(settings.ESCROW_CURRENCIES)[currency]
    fee = (2 * amount * schedule["basis_points"] + 10_000) // 20_000
    return min(max(fee, schedule["min_major"] * unit), schedule["max_major"] * unit)


@dataclass
class Stage:
    """One milestone as the rules see it."""

    pk: int
    index: int
    status: str


def previous(stages: Sequence[Stage], index: int) -> Stage | None:
    """The stage that must be out of the way first: the nearest earlier one that is not under
    dispute (a dispute freezes only its own milestone, never the ones after it)."""
    earlier = [s for s in stages if s.index < index and s.status != DISPUTED]
    return max(earlier, key=lambda s: s.index) if earlier else None


def may_deliver(stages: Sequence[Stage], index: int) -> bool:
    """Index N is delivered only after N-1 was: the previous stage is no longer PENDING."""
    before = previous(stages, index)
    return before is None or before.status != PENDING


def may_release(stages: Sequence[Stage], index: int) -> bool:
    """Index N is released only after N-1 was processed: released, refunded or split."""
    before = previous(stages, index)
    return before is None or before.status in SETTLED_MILESTONE_STATUSES


def stages_of(escrow_id: int) -> list[Stage]:
    return [
        Stage(pk, index, status)
        for pk, index, status in Milestone.objects.filter(escrow_id=escrow_id)
        .order_by("index")
        .values_list("pk", "index", "status")
    ]


def due_for_release(stages: Sequence[Stage], deadlines: dict[int, datetime], now: datetime) -> set[int]:
    """The stages a timer sweep at `now` releases: delivered, past the review deadline, and in
    order, a release making way for the next stage in the same sweep."""
    due: set[int] = set()
    seen = [Stage(s.pk, s.index, s.status) for s in sorted(stages, key=lambda s: s.index)]
    for stage in seen:
        if stage.status == COMPLETED and deadlines[stage.pk] <= now and may_release(seen, stage.index):
            stage.status = RELEASED
            due.add(stage.pk)
    return due


def review_deadline_window(
    *,
    completed_at: datetime,
    funded_at: datetime | None,
    restarted: tuple[datetime, datetime] | None,
    inspection: timedelta,
    extended: bool,
) -> tuple[datetime, datetime]:
    """When a delivered stage releases by itself: the inspection period from when the buyer's
    review began, plus the one extension the buyer may take in that review period. The review
    began at delivery, or at the payment for a stage delivered before it, or when a dispute on
    the stage was withdrawn: that last moment is known only between the dispute's withdrawal
    and the event that records it, hence a window (a point in the other cases)."""
    began = max(t for t in (completed_at, funded_at) if t is not None)
    earliest = latest = began
    if restarted is not None and restarted[0] >= began:
        earliest, latest = restarted
    more = inspection + (settings.ESCROW_REVIEW_EXTENSION if extended else timedelta(0))
    return earliest + more, latest + more


class MilestoneTrail:
    """Replays the milestone events, in the order they were written, over the milestones'
    statuses, and checks each delivery and ordinary release against the order rule as things
    stood at that moment (a run of releases inside one call included). Dispute outcomes and
    mutual cancellations settle stages wherever they are and are not ordinary releases."""

    def __init__(self) -> None:
        self.status: dict[int, str] = {}
        self.where: dict[int, tuple[int, int]] = {}  # milestone pk -> (escrow pk, index)
        self.last_event = 0
        self.checked = 0

    def _stages(self, escrow_id: int) -> list[Stage]:
        return [Stage(pk, i, self.status[pk]) for pk, (e, i) in self.where.items() if e == escrow_id]

    def follow(self) -> None:
        rows = list(Milestone.objects.values_list("pk", "escrow_id", "index", "status"))
        present = {pk for pk, *_ in rows}
        for pk in list(self.status):
            if pk not in present:  # replaced by an edit (nothing had happened to it)
                del self.status[pk], self.where[pk]
        for pk, escrow_id, index, _ in rows:
            self.status.setdefault(pk, PENDING)
            self.where[pk] = (escrow_id, index)
        events = (
            Event.objects.filter(
                pk__gt=self.last_event, kind__startswith="milestone.", milestone__isnull=False
            )
            .exclude(to_status="")
            .order_by("pk")
            .values_list("pk", "milestone_id", "kind", "from_status", "to_status", "details")
        )
        for pk, milestone_id, kind, before, after, details in events:
            self.last_event = pk
            if milestone_id not in self.status:
                continue
            was = self.status[milestone_id]
            assert kind == "milestone.created" or before == was, (
                f"event {kind} of milestone {milestone_id} says it was {before}, its trail says {was}"
            )
            escrow_id, index = self.where[milestone_id]
            stages = self._stages(escrow_id)
            if after == COMPLETED and was == PENDING:
                assert may_deliver(stages, index), (
                    f"milestone {index} of escrow {escrow_id} was delivered before the one before it: "
                    f"{sorted((s.index, s.status) for s in stages)}"
                )
                self.checked += 1
            ordinary = (details or {}).get("reason") != "mutual cancellation"
            if after == RELEASED and was in (PENDING, COMPLETED) and ordinary:
                assert may_release(stages, index), (
                    f"milestone {index} of escrow {escrow_id} was released out of order "
                    f"({(details or {}).get('reason') or 'by the buyer'}): "
                    f"{sorted((s.index, s.status) for s in stages)}"
                )
                self.checked += 1
            self.status[milestone_id] = after
        for pk, _, _, status in rows:
            assert self.status[pk] == status, (
                f"milestone {pk} is {status}; its event trail ends at {self.status[pk]}"
            )


class Clock:
    """The time the services read (django.utils.timezone.now) during one example. It starts at
    the real time and moves a millisecond at each reading, so stamps keep their order and a run
    replays exactly under one seed whatever the machine's speed; `advance` lets days pass;
    inside `standing()` it does not move, so a test knows the `now` a timer sweep saw."""

    TICK = timedelta(milliseconds=1)

    def __init__(self) -> None:
        self.at = timezone.now().replace(microsecond=0)
        self._standing = 0

    def __call__(self) -> datetime:
        if not self._standing:
            self.at += self.TICK
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by

    @contextmanager
    def standing(self) -> Iterator[datetime]:
        self._standing += 1
        try:
            yield self.at
        finally:
            self._standing -= 1
