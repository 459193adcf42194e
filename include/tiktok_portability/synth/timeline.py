"""The deterministic event generator behind every synthetic user.

Nothing here is stored: each (kind, batch) has its own RNG seeded from the user's seed, so any
part of any version can be regenerated on demand, newest first, in bounded memory. Batch 1 is the
history present at export 1; batch ``b >= 2`` is the day between export ``b - 1`` and export ``b``.
Timestamps of batch ``b`` are strictly earlier than ``export_ts(b)`` and not earlier than
``export_ts(b - 1)``, so events of a later export are always later; exports only ever add events.

Rows are plain tuples of ints (timestamp first) so that writers can render millions of them fast;
``snapshot.py`` turns them into the public record types.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from tiktok_portability.synth import vocab
from tiktok_portability.synth.spec import SizeProfile, UserSpec
from tiktok_portability.synth.timefmt import DAY_S, export_ts

HISTORY_S = 400 * DAY_S  # how far back batch 1 reaches (further when it holds very many events)
MIN_MEAN_GAP_S = 20
VIDEO_ID_BASE = 7_000_000_000_000_000_000  # 19-digit ids starting with 7, as TikTok's
P_DUPLICATE = 0.01  # exact repeat of the previous row (same second, same link): real exports have these
P_SAME_SECOND = 0.03  # same second as the previous row, different content
DUPLICATING_KINDS = frozenset({"watch", "like", "search", "share", "login"})
P_UNFOLLOW = 0.25  # per export and per social kind: someone leaves
P_REFOLLOW = 0.15  # per export: someone who left comes back
P_SENT = 0.45
P_SHARED_VIDEO = 0.15

Row = tuple[int, ...]


def _video(rng: random.Random) -> Row:
    return (VIDEO_ID_BASE + rng.getrandbits(59),)


def _payloads() -> dict[str, Callable[[random.Random], Row]]:
    n_msgs = len(vocab.MESSAGES)
    n_comments = len(vocab.COMMENTS)
    video = _video

    def indexed(size: int) -> Callable[[random.Random], Row]:
        return lambda rng: (rng.randrange(size),)

    return {
        "watch": video,
        "like": video,
        "fav_video": video,
        "fav_sound": video,
        "fav_effect": lambda rng: (100_000 + rng.randrange(900_000),),
        "fav_hashtag": indexed(len(vocab.HASHTAGS)),
        "fav_collection": indexed(len(vocab.COLLECTIONS)),
        "search": indexed(len(vocab.SEARCH_TERMS)),
        "share": lambda rng: (
            VIDEO_ID_BASE + rng.getrandbits(59),
            rng.randrange(len(vocab.SHARED_CONTENT)),
            rng.randrange(len(vocab.SHARE_METHODS)),
        ),
        "login": lambda rng: (
            rng.getrandbits(8),
            rng.randrange(len(vocab.DEVICES)),
            rng.randrange(len(vocab.NETWORKS)),
            rng.randrange(len(vocab.CARRIERS)),
        ),
        "comment": lambda rng: (rng.randrange(n_comments), VIDEO_ID_BASE + rng.getrandbits(59)),
        "post": lambda rng: (
            rng.getrandbits(48),
            rng.randrange(len(vocab.POST_TITLES)),
            rng.randrange(len(vocab.SOUNDS)),
            rng.randrange(200),
        ),
        "blocked": lambda rng: (1_000_000 + rng.getrandbits(20),),
        "message": lambda rng: (
            int(rng.random() < P_SENT),
            -1 if rng.random() < P_SHARED_VIDEO else rng.randrange(n_msgs),
            VIDEO_ID_BASE + rng.getrandbits(59),
        ),
    }


PAYLOADS = _payloads()


def _draw_count(rng: random.Random, expected: float) -> int:
    """A count around ``expected`` (uniform 0.5x-1.5x, randomly rounded so fractions add up)."""
    x = expected * (0.5 + rng.random())
    n = int(x)
    if rng.random() < x - n:
        n += 1
    return n


class Timeline:
    """All raw data of one user, regenerated on demand from ``spec``."""

    def __init__(self, spec: UserSpec) -> None:
        self.spec = spec
        self.sizes: SizeProfile = spec.size_profile
        self._key = f"{spec.seed}|{spec.open_id}|"
        self._social: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def rng(self, *parts: object) -> random.Random:
        return random.Random(self._key + "|".join(str(p) for p in parts))

    # -- timestamped event streams ---------------------------------------------------------

    def _batch_count(self, rng: random.Random, initial: int, daily: float, batch: int, first: int) -> int:
        return initial if batch == first else _draw_count(rng, daily)

    def _window(self, batch: int, first: int, n: int) -> tuple[int, int]:
        end = export_ts(batch)
        if batch == first == 1:
            return end - max(HISTORY_S, n * MIN_MEAN_GAP_S), end
        return export_ts(batch - 1), end

    def _stream(
        self, rng: random.Random, kind: str, n: int, start: int, end: int, payload: Callable
    ) -> Iterator[Row]:
        ts = end
        mean2 = 2 * (end - start) / (n + 1)
        rand = rng.random
        dup = P_DUPLICATE if kind in DUPLICATING_KINDS or kind == "message" else 0.0
        exact = dup if kind != "message" else 0.0
        same = dup + P_SAME_SECOND if dup else 0.0
        prev: Row | None = None
        if payload is _video and not dup:
            bits = rng.getrandbits
            for _ in range(n):
                ts -= 1 + int(rand() * mean2)
                if ts < start:
                    ts = start
                yield (ts, VIDEO_ID_BASE + bits(59))
            return
        if payload is _video:
            # The hot path of large archives (watch history): same logic as below, inlined.
            bits = rng.getrandbits
            for _ in range(n):
                r = rand()
                if prev is not None and r < exact:
                    yield prev
                    continue
                if prev is None or r >= same:
                    ts -= 1 + int(rand() * mean2)
                    if ts < start:
                        ts = start
                prev = (ts, VIDEO_ID_BASE + bits(59))
                yield prev
            return
        for _ in range(n):
            r = rand() if dup else 1.0
            if prev is not None and r < exact:
                yield prev
                continue
            if prev is None or r >= same:
                ts -= 1 + int(rand() * mean2)
                if ts < start:
                    ts = start
            prev = (ts, *payload(rng))
            yield prev

    def batch_count(self, kind: str, batch: int) -> int:
        rng = self.rng(kind, batch)
        return self._batch_count(rng, self.sizes.initial(kind), self.sizes.daily(kind), batch, 1)

    def batch_rows(self, kind: str, batch: int) -> Iterator[Row]:
        rng = self.rng(kind, batch)
        n = self._batch_count(rng, self.sizes.initial(kind), self.sizes.daily(kind), batch, 1)
        start, end = self._window(batch, 1, n)
        return self._stream(rng, kind, n, start, end, PAYLOADS[kind])

    def rows(self, kind: str, version: int) -> Iterator[Row]:
        """Every row of ``kind`` as of export ``version``, newest first."""
        for batch in range(version, 0, -1):
            yield from self.batch_rows(kind, batch)

    def count(self, kind: str, version: int) -> int:
        return sum(self.batch_count(kind, b) for b in range(1, version + 1))

    # -- posts (their like counts grow with every export) ----------------------------------

    def posts(self, version: int) -> list[tuple[int, int, int, int, int]]:
        """``(ts, post_id, title_idx, sound_idx, likes_now)`` newest first."""
        out = []
        for batch in range(version, 0, -1):
            for ts, post_id, title, sound, base in self.batch_rows("post", batch):
                growth = 1 + post_id % 7
                out.append((ts, post_id, title, sound, base + growth * (version - batch)))
        return out

    # -- social graph (replayed: people follow, unfollow and re-follow) --------------------

    def social(self, kind: str, version: int) -> list[tuple[int, int]]:
        """``(ts, person_index)`` of current followers/following at ``version``, newest first."""
        cached = self._social.get((kind, version))
        if cached is not None:
            return cached
        parity = 0 if kind == "follower" else 1
        initial, daily = self.sizes.initial(kind), self.sizes.daily(kind)
        current: dict[int, int] = {}
        removed: list[int] = []
        counter = 0
        for batch in range(1, version + 1):
            rng = self.rng("social", kind, batch)
            end = export_ts(batch)
            if batch == 1:
                span = max(HISTORY_S, initial * MIN_MEAN_GAP_S)
                for _ in range(initial):
                    current[2 * counter + parity] = end - 1 - rng.randrange(span)
                    counter += 1
                continue
            start = export_ts(batch - 1)
            for _ in range(_draw_count(rng, daily)):
                current[2 * counter + parity] = start + rng.randrange(DAY_S)
                counter += 1
            if current and rng.random() < P_UNFOLLOW:
                victim = rng.choice(list(current))
                del current[victim]
                removed.append(victim)
            if removed and rng.random() < P_REFOLLOW:
                current[removed.pop(rng.randrange(len(removed)))] = start + rng.randrange(DAY_S)
        result = sorted(((ts, person) for person, ts in current.items()), reverse=True)
        self._social[(kind, version)] = result
        return result

    # -- direct messages -----------------------------------------------------------------

    def conversation_count(self, version: int) -> int:
        return self.sizes.conversations + (version - 1) // self.sizes.new_conversation_every

    def conversation_start(self, conversation: int) -> int:
        extra = conversation - self.sizes.conversations
        return 1 if extra < 0 else 1 + (extra + 1) * self.sizes.new_conversation_every

    def partner_index(self, conversation: int) -> int:
        """Partners are the first followers' names (people one chats with usually follow back)."""
        return 2 * conversation

    def message_rows(self, conversation: int, version: int) -> Iterator[Row]:
        """``(ts, sent, text_idx_or_-1, video_id)`` of one conversation, newest first."""
        first = self.conversation_start(conversation)
        for batch in range(version, first - 1, -1):
            rng = self.rng("dm", conversation, batch)
            n = self._batch_count(rng, self.sizes.messages_initial, self.sizes.messages_daily, batch, first)
            start, end = self._window(batch, first, n)
            yield from self._stream(rng, "message", n, start, end, PAYLOADS["message"])

    def message_count(self, conversation: int, version: int) -> int:
        first = self.conversation_start(conversation)
        total = 0
        for batch in range(first, version + 1):
            rng = self.rng("dm", conversation, batch)
            total += self._batch_count(
                rng, self.sizes.messages_initial, self.sizes.messages_daily, batch, first
            )
        return total
