"""How ids become the link strings written into archives (and into the ground truth).

Watch history links switched to ``https://www.tiktok.com/@/video/<id>/`` (empty handle) in the
newest layout (G3); everything else keeps the ``tiktokv.com/share/video`` form.
"""

from __future__ import annotations

from tiktok_portability.synth import vocab

SHARE_VIDEO = "https://www.tiktokv.com/share/video/"
WEB_VIDEO = "https://www.tiktok.com/@/video/"


def watch_prefix(generation: str) -> str:
    return WEB_VIDEO if generation == "G3" else SHARE_VIDEO


def video_link(video_id: int, prefix: str = SHARE_VIDEO) -> str:
    return f"{prefix}{video_id}/"


def sound_link(sound_id: int) -> str:
    return f"https://www.tiktok.com/music/original-sound-{sound_id}"


def effect_link(effect_id: int) -> str:
    return f"https://www.tiktok.com/sticker/{effect_id}"


def hashtag_link(index: int) -> str:
    return f"https://www.tiktok.com/tag/{vocab.HASHTAGS[index]}"


def post_link(post_id: int) -> str:
    return f"https://v16-webapp.tiktokcdn.invalid/{post_id:012x}/video.mp4"


def post_cover(post_id: int) -> str:
    return f"https://p16-sign.tiktokcdn.invalid/{post_id:012x}/cover.jpeg"


def login_ip(octet: int) -> str:
    return f"203.0.113.{octet}"
