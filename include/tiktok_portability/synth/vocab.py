"""Fixed word pools the generator draws from.

Texts deliberately include non-ASCII letters, emoji, quotes, backslashes and tabs so that writers
and parsers must escape and decode properly. No text contains a line break: TXT exports have no
way to represent one, and the ground truth is shared by the JSON and TXT layouts.
"""

from __future__ import annotations

import json

FIRST_NAMES: tuple[str, ...] = (
    "pat",
    "sam",
    "alex",
    "noor",
    "jules",
    "mila",
    "ravi",
    "lena",
    "tomas",
    "yara",
    "finn",
    "sofia",
    "ines",
    "bram",
    "zoe",
    "kai",
    "lotte",
    "omar",
    "eva",
    "daan",
)
LAST_NAMES: tuple[str, ...] = (
    "bakes",
    "rides",
    "travels",
    "cooks",
    "draws",
    "dances",
    "reads",
    "codes",
    "sings",
    "films",
    "plants",
    "runs",
    "knits",
    "climbs",
    "paints",
    "skates",
)
DISPLAY_NAMES: tuple[str, ...] = (
    "Zoë Kowalski ✨",
    'Jürgen "JJ" Bauer',
    "Ana Sofía 🌻",
    "李雷",
    "Noor el-Amin",
    "Łukasz 🚲",
    "Chloé & Max",
    "Søren \\ Backslash",
)
BIOS: tuple[str, ...] = (
    'baking "sourdough" & bikes 🚲',
    "plants 🌱 | coffee ☕ | Amsterdam",
    "ik maak video's over koken 🍳",
    "path\\to\\happiness — tabs\there",
    "日本語もOK 🎌",
)
MESSAGES: tuple[str, ...] = (
    "hi!",
    "did you see this one?",
    "haha 😂😂",
    'omg "best" recipe ever',
    "see you at 8 ✌️",
    "Zürich or Köln next summer?",
    "wat een leuke video 😍",
    "ok",
    "send me the link pls",
    "this is a backslash: \\ and a tab:\tdone",
    "🔥🔥🔥",
    "je t'ai envoyé la vidéo 🎬",
    "lol",
    "where was this filmed? 🏔️",
    "good morning ☀️",
    "I can't stop watching this 🐱",
)
COMMENTS: tuple[str, ...] = (
    "this recipe is great",
    "wow 😍",
    "first!",
    '"iconic"',
    "how did you do that?? 🤯",
    "mooi gedaan 👏",
    "can you share the song name?",
    "love the colours 🎨",
)
SEARCH_TERMS: tuple[str, ...] = (
    "sourdough starter",
    "bike repair",
    "amsterdam cafés",
    "cat videos",
    "how to knit",
    "easy dinner",
    "k-pop dance",
    "😂 memes",
    "zürich travel",
    '"quiet" quitting',
)
POST_TITLES: tuple[str, ...] = (
    "first try at sourdough #baking",
    "sunset ride 🚲 #bike",
    "my plant shelf 🌱",
    "day in my life",
    "trying the trend 😅",
    "Köln in 30 seconds",
)
SOUNDS: tuple[str, ...] = ("original sound", "Espresso - Sabrina Carpenter", "Flowers - Miley Cyrus")
HASHTAGS: tuple[str, ...] = ("baking", "fyp", "cats", "travel", "diy", "booktok", "plants", "bike")
COLLECTIONS: tuple[str, ...] = ("Recipes", "Travel ideas ✈️", "Workouts", "Funny")
SHARED_CONTENT: tuple[str, ...] = ("video", "live", "profile", "sound")
SHARE_METHODS: tuple[str, ...] = ("chat_merge", "copy_link", "whatsapp", "instagram_story")
DEVICES: tuple[tuple[str, str], ...] = (
    ("Pixel 8", "Android 15"),
    ("iPhone15,2", "iOS 18.3"),
    ("SM-S911B", "Android 14"),
    ("iPad13,4", "iPadOS 17.5"),
)
NETWORKS: tuple[str, ...] = ("Wi-Fi", "4G", "5G")
CARRIERS: tuple[str, ...] = ("KPN", "Vodafone", "T-Mobile", "Orange", "")


def json_escape(text: str) -> str:
    """The JSON string body (without quotes) of ``text``, UTF-8 kept as is."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


MESSAGES_JSON: tuple[str, ...] = tuple(json_escape(m) for m in MESSAGES)
COMMENTS_JSON: tuple[str, ...] = tuple(json_escape(c) for c in COMMENTS)
SEARCH_TERMS_JSON: tuple[str, ...] = tuple(json_escape(s) for s in SEARCH_TERMS)
COLLECTIONS_JSON: tuple[str, ...] = tuple(json_escape(c) for c in COLLECTIONS)


def person_name(index: int) -> str:
    """A stable, unique TikTok-style username for person number ``index``."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return f"{first}.{last}{index}"
