"""Ground-truth record types: what a synthetic user's export holds, entity by entity.

Event records are immutable NamedTuples so that both ``event.link`` and tuple comparison work:
``snap.watch_history[0] == (timestamp, link)``. Timestamps are timezone-aware UTC datetimes at
second resolution; links and names are exactly the strings written into the archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class WatchEvent(NamedTuple):
    timestamp: datetime
    link: str


class Like(NamedTuple):
    timestamp: datetime
    link: str


class Favorite(NamedTuple):
    """kind: ``video`` | ``sound`` | ``effect`` | ``hashtag`` | ``collection``; value: link or name."""

    kind: str
    timestamp: datetime
    value: str


class Search(NamedTuple):
    timestamp: datetime
    term: str


class Share(NamedTuple):
    timestamp: datetime
    shared_content: str
    link: str
    method: str


class Login(NamedTuple):
    timestamp: datetime
    ip: str
    device_model: str
    device_system: str
    network_type: str
    carrier: str


class Comment(NamedTuple):
    """``url`` is the commented post's link (written in G2+ JSON and new TXT only)."""

    timestamp: datetime
    text: str
    url: str


class DirectMessage(NamedTuple):
    """One message; ``sender == partner`` for received messages, the user's name for sent ones."""

    partner: str
    timestamp: datetime
    sender: str
    text: str


class FollowEdge(NamedTuple):
    """A follower or followed account and when the relation (last) started."""

    timestamp: datetime
    user_name: str


class BlockedUser(NamedTuple):
    timestamp: datetime
    user_name: str


class Post(NamedTuple):
    """``likes`` is the count as of the snapshot's export (posts gain likes over time)."""

    timestamp: datetime
    link: str
    likes: int
    title: str
    sound: str
    cover_image: str


@dataclass(frozen=True)
class Profile:
    user_name: str
    display_name: str
    bio: str
    birth_date: str
    email: str
    phone: str
    likes_received: int
    follower_count: int
    following_count: int
    profile_photo: str
