"""SyntheticUser and Snapshot: the ground truth of one user at one export version."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar, overload

from tiktok_portability.redact import fingerprint
from tiktok_portability.synth import links, vocab
from tiktok_portability.synth.errors import ArchiveRequestError
from tiktok_portability.synth.records import (
    BlockedUser,
    Comment,
    DirectMessage,
    Favorite,
    FollowEdge,
    Like,
    Login,
    Post,
    Profile,
    Search,
    Share,
    WatchEvent,
)
from tiktok_portability.synth.spec import UserSpec
from tiktok_portability.synth.timefmt import export_ts, to_datetime
from tiktok_portability.synth.timeline import Timeline

log = logging.getLogger(__name__)

T = TypeVar("T")

FAVORITE_KINDS: tuple[tuple[str, str], ...] = (
    ("video", "fav_video"),
    ("sound", "fav_sound"),
    ("effect", "fav_effect"),
    ("hashtag", "fav_hashtag"),
    ("collection", "fav_collection"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LazyRecords(Sequence[T]):
    """A read-only sequence regenerated on every iteration (bounded memory at any size).

    ``len()`` is cheap. Indexing materialises the whole list once, so only index small users.
    Compares equal to any sequence with the same items in the same order.
    """

    def __init__(self, factory: Callable[[], Iterator[T]], length: Callable[[], int]) -> None:
        self._factory = factory
        self._length = length
        self._len: int | None = None
        self._items: list[T] | None = None

    def __iter__(self) -> Iterator[T]:
        return self._factory()

    def __len__(self) -> int:
        if self._len is None:
            self._len = self._length()
        return self._len

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if self._items is None:
            self._items = list(self._factory())
        return self._items[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyRecords(len={len(self)})"


def user_name_for(spec: UserSpec) -> str:
    if spec.username:
        return spec.username
    seed = abs(spec.seed)
    first = vocab.FIRST_NAMES[seed % len(vocab.FIRST_NAMES)]
    last = vocab.LAST_NAMES[(seed // len(vocab.FIRST_NAMES)) % len(vocab.LAST_NAMES)]
    return f"{first}_{last}_{seed}"


def login_fields(r: tuple[int, ...]) -> tuple[str, str, str, str, str]:
    """IP, device model, device system, network and carrier of a login timeline row (every layout
    and the ground truth render the same values)."""
    model, system = vocab.DEVICES[r[2]]
    return links.login_ip(r[1]), model, system, vocab.NETWORKS[r[3]], vocab.CARRIERS[r[4]]


class Snapshot:
    """Everything the export of ``version`` holds for the user, as ground-truth records.

    Lists are newest first, like the archive. High-volume entities (watch history, likes,
    favorites, searches, shares, logins, comments, DMs) are ``LazyRecords``; the rest are lists.
    """

    def __init__(self, timeline: Timeline, version: int) -> None:
        self.timeline = timeline
        self.spec = timeline.spec
        self.version = version
        self.export_ts = export_ts(version)
        self.export_time: datetime = to_datetime(self.export_ts)
        self.user_name = user_name_for(self.spec)

    def __repr__(self) -> str:
        return f"Snapshot(open_id_fp={fingerprint(self.spec.open_id)}, version={self.version})"

    # -- helpers ---------------------------------------------------------------------------

    def _lazy(self, kind: str, make: Callable[[tuple[int, ...]], Any]) -> LazyRecords[Any]:
        tl, version = self.timeline, self.version
        return LazyRecords(lambda: map(make, tl.rows(kind, version)), lambda: tl.count(kind, version))

    # -- entities --------------------------------------------------------------------------

    @cached_property
    def profile(self) -> Profile:
        rng = self.timeline.rng("profile")
        seed = abs(self.spec.seed)
        birth = f"{1 + rng.randrange(28):02d}-{_MONTHS[rng.randrange(12)]}-{1975 + rng.randrange(30)}"
        phone = "" if rng.random() < 0.3 else f"+316{rng.randrange(10**8):08d}"
        return Profile(
            user_name=self.user_name,
            display_name=vocab.DISPLAY_NAMES[seed % len(vocab.DISPLAY_NAMES)],
            bio=vocab.BIOS[seed % len(vocab.BIOS)],
            birth_date=birth,
            email=f"{self.user_name}@example.com",
            phone=phone,
            likes_received=sum(p.likes for p in self.posts),
            follower_count=len(self.followers),
            following_count=len(self.following),
            profile_photo=f"https://p16-sign.tiktokcdn.invalid/avatar/{fingerprint(self.spec.open_id)}.jpeg",
        )

    @cached_property
    def posts(self) -> list[Post]:
        return [
            Post(
                to_datetime(ts),
                links.post_link(pid),
                likes,
                vocab.POST_TITLES[title],
                vocab.SOUNDS[sound],
                links.post_cover(pid),
            )
            for ts, pid, title, sound, likes in self.timeline.posts(self.version)
        ]

    @cached_property
    def followers(self) -> list[FollowEdge]:
        return [
            FollowEdge(to_datetime(ts), vocab.person_name(p))
            for ts, p in self.timeline.social("follower", self.version)
        ]

    @cached_property
    def following(self) -> list[FollowEdge]:
        return [
            FollowEdge(to_datetime(ts), vocab.person_name(p))
            for ts, p in self.timeline.social("following", self.version)
        ]

    @cached_property
    def blocked_users(self) -> list[BlockedUser]:
        return [
            BlockedUser(to_datetime(ts), vocab.person_name(p))
            for ts, p in self.timeline.rows("blocked", self.version)
        ]

    @cached_property
    def watch_history(self) -> LazyRecords[WatchEvent]:
        prefix = links.watch_prefix(self.spec.generation)
        return self._lazy("watch", lambda r: WatchEvent(to_datetime(r[0]), f"{prefix}{r[1]}/"))

    @cached_property
    def likes(self) -> LazyRecords[Like]:
        return self._lazy("like", lambda r: Like(to_datetime(r[0]), links.video_link(r[1])))

    @cached_property
    def favorites(self) -> LazyRecords[Favorite]:
        tl, version = self.timeline, self.version
        render: dict[str, Callable[[int], str]] = {
            "video": links.video_link,
            "sound": links.sound_link,
            "effect": links.effect_link,
            "hashtag": links.hashtag_link,
            "collection": lambda i: vocab.COLLECTIONS[i],
        }

        def generate() -> Iterator[Favorite]:
            for name, kind in FAVORITE_KINDS:
                fn = render[name]
                for ts, value in tl.rows(kind, version):
                    yield Favorite(name, to_datetime(ts), fn(value))

        return LazyRecords(generate, lambda: sum(tl.count(kind, version) for _, kind in FAVORITE_KINDS))

    @cached_property
    def searches(self) -> LazyRecords[Search]:
        return self._lazy("search", lambda r: Search(to_datetime(r[0]), vocab.SEARCH_TERMS[r[1]]))

    @cached_property
    def shares(self) -> LazyRecords[Share]:
        return self._lazy(
            "share",
            lambda r: Share(
                to_datetime(r[0]),
                vocab.SHARED_CONTENT[r[2]],
                links.video_link(r[1]),
                vocab.SHARE_METHODS[r[3]],
            ),
        )

    @cached_property
    def logins(self) -> LazyRecords[Login]:
        def make(r: tuple[int, ...]) -> Login:
            return Login(to_datetime(r[0]), *login_fields(r))

        return self._lazy("login", make)

    @cached_property
    def comments(self) -> LazyRecords[Comment]:
        return self._lazy(
            "comment", lambda r: Comment(to_datetime(r[0]), vocab.COMMENTS[r[1]], links.video_link(r[2]))
        )

    @cached_property
    def conversations(self) -> list[str]:
        """Partner usernames, in archive order."""
        return [
            vocab.person_name(self.timeline.partner_index(c))
            for c in range(self.timeline.conversation_count(self.version))
        ]

    def messages_with(self, partner: str) -> LazyRecords[DirectMessage]:
        """One conversation's messages, newest first."""
        try:
            conversation = self.conversations.index(partner)
        except ValueError:
            raise KeyError(f"no conversation with {partner!r} at version {self.version}") from None
        return LazyRecords(
            lambda: self._messages(conversation, partner),
            lambda: self.timeline.message_count(conversation, self.version),
        )

    def _messages(self, conversation: int, partner: str) -> Iterator[DirectMessage]:
        me = self.user_name
        for ts, sent, text, vid in self.timeline.message_rows(conversation, self.version):
            body = links.video_link(vid) if text < 0 else vocab.MESSAGES[text]
            yield DirectMessage(partner, to_datetime(ts), me if sent else partner, body)

    @cached_property
    def dm_messages(self) -> LazyRecords[DirectMessage]:
        """All messages, conversation by conversation (archive order), each newest first."""
        partners = self.conversations

        def generate() -> Iterator[DirectMessage]:
            for c, partner in enumerate(partners):
                yield from self._messages(c, partner)

        return LazyRecords(
            generate, lambda: sum(self.timeline.message_count(c, self.version) for c in range(len(partners)))
        )

    def counts(self) -> dict[str, int]:
        """Rows per lake table this snapshot should produce (for all_data)."""
        return {
            "profile": 1,
            "posts": len(self.posts),
            "followers": len(self.followers),
            "following": len(self.following),
            "watch_history": len(self.watch_history),
            "likes": len(self.likes),
            "favorites": len(self.favorites),
            "searches": len(self.searches),
            "shares": len(self.shares),
            "logins": len(self.logins),
            "comments": len(self.comments),
            "dm_messages": len(self.dm_messages),
            "blocked_users": len(self.blocked_users),
        }


class SyntheticUser:
    """A deterministic synthetic TikTok user; ``snapshot(v)`` is their data at export ``v``."""

    def __init__(self, spec: UserSpec) -> None:
        self.spec = spec
        self.timeline = Timeline(spec)

    def __repr__(self) -> str:
        return f"SyntheticUser(open_id_fp={fingerprint(self.spec.open_id)}, seed={self.spec.seed})"

    def snapshot(self, version: int) -> Snapshot:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ArchiveRequestError(f"version must be an int >= 1, got {version!r}")
        return Snapshot(self.timeline, version)
