"""Where the lake's bytes live: a local folder or an S3 bucket/prefix, behind one small interface.

Keys are ``/``-separated relative paths (``watch_history/snapshot_date=2026-01-02/batch-ab.parquet``).
Every write is atomic for readers: the local store writes a temp file under ``_tmp/`` (outside
every table glob) and renames it; S3 objects only appear when their PUT or multipart upload
completes. boto3 is used directly for S3 so credentials come from the standard AWS chain
(environment, profile, instance role) or from a caller-supplied ``boto3.session.Session`` (the
Airflow hook builds one from an AWS connection); ``AWS_ENDPOINT_URL`` is honoured by boto3 itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tiktok_portability.lake.errors import InvalidLakeUri, StorageError

log = logging.getLogger(__name__)

TMP_PREFIX = "_tmp"
# A local lake's top folders holding users' raw exports, their per-user state and erasure records
# (and staging): owner-only whatever the umask. Table files get a configurable mode instead.
PRIVATE_FOLDERS = frozenset({"raw", "_state", "_audit", TMP_PREFIX})
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TABLE_MODE_ENV = "TIKTOK_LAKE_TABLE_MODE"
# Tables readable by the owner's group (analysts), never by everyone; "600" makes them owner-only.
DEFAULT_TABLE_FILE_MODE = 0o640


def parse_file_mode(value: str | int) -> int:
    """An octal file mode (``"640"``, ``"0o640"`` or an int): owner read-write, no execute bits."""
    try:
        mode = value if isinstance(value, int) else int(str(value).strip().removeprefix("0o"), 8)
    except ValueError:
        raise StorageError(f"lake table file mode {value!r} is not an octal mode such as 640") from None
    if mode & ~0o666 or mode & 0o600 != 0o600:
        raise StorageError(
            f"lake table file mode {oct(mode)} must give the owner read-write and no execute bits"
        )
    return mode


def _dir_mode(file_mode: int) -> int:
    """Folders of files with ``file_mode``: whoever may read the files may also enter the folder."""
    return 0o700 | (file_mode & 0o044) | ((file_mode & 0o044) >> 2)


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"lake key {key!r} is not a clean relative path")
    return key


class Storage(ABC):
    """A flat key -> bytes store with atomic writes."""

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """The URI of a key, for messages and for readers such as DuckDB."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, local_path: Path) -> None:
        """Publish a local file under ``key`` atomically (the local file may be consumed)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (a folder; recursive), sorted."""

    @abstractmethod
    def folders(self, prefix: str) -> list[str]:
        """The folders directly under ``prefix`` (keys without the trailing ``/``), sorted.

        One delimiter listing instead of every key below: finding a user's raw archives lists
        the date folders and then only that user's folder of each date, not the whole zone.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete a key; deleting a missing key is not an error."""

    @abstractmethod
    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local path holding the object's bytes for the duration of the block."""

    @abstractmethod
    @contextlib.contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A private local folder for files about to be published with :meth:`put_file`."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def sizes(self, prefix: str) -> dict[str, int]:
        """``{key: size in bytes}`` of every key under ``prefix`` (raw retention, benchmarks)."""
        return {key: size for key in self.list(prefix) if (size := self.size(key)) is not None}

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete keys, batch after batch in the given order; missing keys are not an error."""
        for key in keys:
            self.delete(key)


class LocalStorage(Storage):
    """A local folder. ``table_file_mode`` (default ``$TIKTOK_LAKE_TABLE_MODE`` or 640) is the mode
    of everything outside :data:`PRIVATE_FOLDERS`; those are always 0700 folders of 0600 files."""

    def __init__(self, root: Path, *, table_file_mode: int | str | None = None) -> None:
        if table_file_mode is None:
            table_file_mode = os.environ.get(TABLE_MODE_ENV) or DEFAULT_TABLE_FILE_MODE
        self.table_file_mode = parse_file_mode(table_file_mode)
        self.table_dir_mode = _dir_mode(self.table_file_mode)
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, self.table_dir_mode)
        for name in PRIVATE_FOLDERS:
            # Also tightens a lake written before these modes were set.
            folder = self.root / name
            if folder.is_dir():
                os.chmod(folder, PRIVATE_DIR_MODE)

    def _modes(self, key: str) -> tuple[int, int]:
        """(file mode, folder mode) for a key, chosen by its top folder."""
        if key.split("/", 1)[0] in PRIVATE_FOLDERS:
            return PRIVATE_FILE_MODE, PRIVATE_DIR_MODE
        return self.table_file_mode, self.table_dir_mode

    def _make_dirs(self, folder: Path, key: str) -> None:
        """Create ``folder`` and its missing parents with the key's folder mode (not the umask's)."""
        missing = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        _, mode = self._modes(key)
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            os.chmod(path, mode)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def uri(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def _tmp_dir(self) -> Path:
        tmp = self.root / TMP_PREFIX
        if not tmp.is_dir():
            self._make_dirs(tmp, TMP_PREFIX)
        return tmp

    def _tmp_path(self) -> Path:
        return self._tmp_dir() / f".{uuid.uuid4().hex}.tmp"

    def put_bytes(self, key: str, data: bytes) -> None:
        tmp = self._tmp_path()
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            self._replace(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, local_path: Path) -> None:
        local_path = Path(local_path)
        if local_path.resolve().is_relative_to(self.root / TMP_PREFIX):
            self._replace(local_path, key)  # same filesystem: a rename, no copy
            return
        tmp = self._tmp_path()
        try:
            shutil.copyfile(local_path, tmp)
            # A file from outside the lake (a downloaded zip) may be the only copy of its bytes:
            # they reach the disk before the name does, as put_bytes does for manifests. Files
            # staged in the lake (tables, ledgers) are only renamed: a batch re-run rebuilds them.
            fd = os.open(tmp, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._replace(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def _replace(self, src: Path, key: str) -> None:
        dest = self._path(key)
        try:
            # The mode is set before the name appears, so no reader ever sees a wider one.
            os.chmod(src, self._modes(key)[0])
            try:
                os.replace(src, dest)
            except FileNotFoundError:
                # The folder is usually there already: create it only when the rename needs it.
                self._make_dirs(dest.parent, key)
                os.replace(src, dest)
        except OSError as exc:
            raise StorageError(f"cannot publish {self.uri(key)}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {self.uri(key)}: {exc}") from exc

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and not rel.startswith(TMP_PREFIX + "/"):
                keys.append(rel)
        return sorted(keys)

    def folders(self, prefix: str) -> list[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        found = (p.relative_to(self.root).as_posix() for p in base.iterdir() if p.is_dir())
        return sorted(f for f in found if f != TMP_PREFIX)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def sizes(self, prefix: str) -> dict[str, int]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return {}
        found = {}
        for path in base.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and not rel.startswith(TMP_PREFIX + "/"):
                found[rel] = path.stat().st_size
        return dict(sorted(found.items()))

    def delete_many(self, keys: Iterable[str]) -> None:
        # Folders emptied here are removed too, as on S3 where a prefix ends with its last key:
        # a folder listing (a user's folders of a date) must not find a user who has nothing left.
        emptied = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            emptied.add(path.parent)
        for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
            while folder != self.root and folder.parent != self.root:  # keep top folders (modes)
                try:
                    folder.rmdir()
                except OSError:  # not empty (or already gone): its parents are not empty either
                    break
                folder = folder.parent

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise StorageError(f"{self.uri(key)} does not exist")
        yield path

    @contextlib.contextmanager
    def staging_dir(self) -> Iterator[Path]:
        path = Path(tempfile.mkdtemp(prefix=".stage-", dir=self._tmp_dir()))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        session: Any = None,
        client: Any = None,
    ) -> None:
        import boto3  # imported here so a local-only lake never pays for botocore

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            session = session or boto3.session.Session()
            client = session.client("s3", endpoint_url=endpoint_url)
        self.client = client

    def __repr__(self) -> str:
        return f"S3Storage({self.uri()!r})"

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str = "") -> str:
        full = self._key(key) if key else self.prefix
        return f"s3://{self.bucket}/{full}".rstrip("/")

    def _fail(self, op: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {op} {self.uri(key)}: {exc}")

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:  # botocore raises many unrelated types; all mean "not written"
            raise self._fail("write", key, exc) from exc

    def put_file(self, key: str, local_path: Path) -> None:
        try:
            self.client.upload_file(str(local_path), self.bucket, self._key(key))
        except Exception as exc:
            raise self._fail("upload", key, exc) from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            raise self._fail("read", key, exc) from exc

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("stat", key, exc) from exc
        return int(head["ContentLength"])

    def list(self, prefix: str) -> list[str]:
        return self._listing(prefix, "Contents", "Key")

    def folders(self, prefix: str) -> list[str]:
        return [f.rstrip("/") for f in self._listing(prefix, "CommonPrefixes", "Prefix", Delimiter="/")]

    def _listing(self, prefix: str, entries: str, field: str, **options: str) -> list[str]:
        """Every page's ``entries`` under the folder ``prefix``, as lake keys, sorted."""
        folder = prefix.strip("/")
        full = self._key(folder) + "/" if folder else (self.prefix + "/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, **options
            )
            for page in pages:
                found.extend(entry[field][strip:] for entry in page.get(entries, []))
        except Exception as exc:
            raise self._fail("list", folder, exc) from exc
        return sorted(found)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._fail("delete", key, exc) from exc

    def sizes(self, prefix: str) -> dict[str, int]:
        # The listing carries each object's size: one request per 1,000 keys, no HEAD per key.
        folder = prefix.strip("/")
        full = self._key(folder) + "/" if folder else (self.prefix + "/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: dict[str, int] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                found.update((e["Key"][strip:], int(e["Size"])) for e in page.get("Contents", []))
        except Exception as exc:
            raise self._fail("list", folder, exc) from exc
        return dict(sorted(found.items()))

    def delete_many(self, keys: Iterable[str]) -> None:
        # DeleteObjects takes up to 1,000 keys a request: a night's expired raw archives at
        # 100,000 users are ~200 requests instead of 200,000.
        pending = list(keys)
        for start in range(0, len(pending), 1000):
            batch = pending[start : start + 1000]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._key(k)} for k in batch], "Quiet": True},
                )
            except Exception as exc:
                raise self._fail("delete", batch[0], exc) from exc
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"cannot delete {len(errors)} of {len(batch)} objects under {self.uri()}, first "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="tiktok-lake-") as tmp:
            path = Path(tmp) / "object"
            try:
                self.client.download_file(self.bucket, self._key(key), str(path))
            except Exception as exc:
                raise self._fail("download", key, exc) from exc
            yield path

    @contextlib.contextmanager
    def staging_dir(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="tiktok-lake-stage-") as tmp:
            yield Path(tmp)


def storage_from_uri(uri: str, *, s3_endpoint_url: str | None = None, boto3_session: Any = None) -> Storage:
    """``/path``, ``file:///path`` -> :class:`LocalStorage`; ``s3://bucket/prefix`` -> :class:`S3Storage`."""
    if not uri:
        raise InvalidLakeUri("lake URI is empty")
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise InvalidLakeUri(f"lake URI {uri!r}: file URIs must not name a host")
        return LocalStorage(Path(path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidLakeUri(f"lake URI {uri!r} names no bucket")
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=s3_endpoint_url, session=boto3_session)
    raise InvalidLakeUri(f"lake URI {uri!r}: scheme {parsed.scheme!r} is not file or s3")
