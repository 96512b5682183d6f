"""The Apache Kafka jars: fetched once from Maven Central by the machine's Maven, into a cache outside the repo.

Also what running them needs (Java 17+); ``kafka_toolchain_available`` words a missing piece for a skip message.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.devtools.brokers.errors import KafkaFetchFailed, KafkaToolchainMissing

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
MINIMUM_JAVA_VERSION = 17  # Kafka 4.x brokers need Java 17
MAVEN_TIMEOUT_SECONDS = 900.0

_COMPLETE_MARKER = ".complete"

# kafka_2.13 brings broker, raft, clients, scala and log4j; its published POM omits the SLF4J
# binding, and Kafka 4.x still logs through slf4j-api 1.7, hence log4j-slf4j-impl (the
# slf4j2 variant drags in slf4j 2 and silences the broker's logging).
_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>leadstream</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>{LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
"""


def kafka_cache_dir() -> Path:
    """Where the Kafka jars live: `$LEADSTREAM_KAFKA_CACHE`, or one folder per version under ~/.cache."""
    override = os.environ.get("LEADSTREAM_KAFKA_CACHE")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "leadstream" / f"kafka-{KAFKA_VERSION}"


def kafka_toolchain_available(cache_dir: Path | None = None) -> tuple[bool, str]:
    """Whether Apache Kafka can run here; when not, the reason, worded for a skip message."""
    try:
        _require_java()
    except KafkaToolchainMissing as missing:
        return False, str(missing)
    if not _jars_complete(cache_dir or kafka_cache_dir()) and shutil.which("mvn") is None:
        return False, "mvn is not on PATH, and Maven is needed once to fetch the Apache Kafka jars"
    return True, ""


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """The folder of Kafka jars, fetched with Maven on first use and reused afterwards."""
    cache_dir = cache_dir or kafka_cache_dir()
    lib_dir = cache_dir / "lib"
    _require_java()
    if _jars_complete(cache_dir):
        return lib_dir
    if shutil.which("mvn") is None:
        raise KafkaToolchainMissing("mvn is not on PATH; Maven is needed once to fetch the Apache Kafka jars")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / ".fetch.lock"):
        if not _jars_complete(cache_dir):  # another process may have fetched while we waited
            _fetch_jars(cache_dir)
    return lib_dir


def _fetch_jars(cache_dir: Path) -> None:
    lib_dir = cache_dir / "lib"
    # No marker means an earlier fetch was interrupted or the pom changed: start clean.
    shutil.rmtree(lib_dir, ignore_errors=True)
    pom_path = cache_dir / "pom.xml"
    pom_path.write_text(_POM)
    command = [
        "mvn", "-B", "-q", "-f", str(pom_path),
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={lib_dir}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as timeout:
        raise KafkaFetchFailed(f"mvn did not finish within {MAVEN_TIMEOUT_SECONDS:.0f}s") from timeout
    output = (result.stdout or "") + (result.stderr or "")
    (cache_dir / "mvn.log").write_text(output)
    if result.returncode != 0 or not any(lib_dir.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise KafkaFetchFailed(
            f"mvn could not fetch Apache Kafka {KAFKA_VERSION} (exit {result.returncode}):\n{tail}"
        )
    (lib_dir / _COMPLETE_MARKER).write_text(_pom_digest())


def _jars_complete(cache_dir: Path) -> bool:
    marker = cache_dir / "lib" / _COMPLETE_MARKER
    return marker.exists() and marker.read_text().strip() == _pom_digest()


def _pom_digest() -> str:
    return hashlib.sha256(_POM.encode()).hexdigest()


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Serialises fetches between processes (parallel test runs share the cache)."""
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _require_java() -> None:
    if shutil.which("java") is None:
        raise KafkaToolchainMissing(
            f"java is not on PATH; Apache Kafka {KAFKA_VERSION} needs Java {MINIMUM_JAVA_VERSION}+"
        )
    version = _java_major_version()
    if version is not None and version < MINIMUM_JAVA_VERSION:
        raise KafkaToolchainMissing(
            f"java {version} is on PATH; Apache Kafka {KAFKA_VERSION} needs Java {MINIMUM_JAVA_VERSION}+"
        )


def _java_major_version() -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for 'java version "1.8.0_392"'; None if unreadable."""
    try:
        result = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major
