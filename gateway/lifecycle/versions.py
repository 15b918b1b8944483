"""One service per model version, opened from its export and retired once its last request has finished.

Each version has its own metadata, tokenizer, Triton client and coalescer (so versions never share a call),
its v2 analyzer (its own calibration) and drift monitor; the answer cache is shared, its keys hold the version.
"""

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from tritonclient.utils import InferenceServerException

from contract.drift_profile import TrafficProfile
from contract.metadata import ServingMetadata
from contract.versions import NoServedVersion, resolve_version
from gateway.errors import ModelMismatch
from gateway.pipeline.analysis import Analyzer
from gateway.pipeline.cache import ResultCache
from gateway.pipeline.drift import DriftMonitor
from gateway.pipeline.service import SentimentService
from gateway.pipeline.tokenization import TextEncoder
from gateway.pipeline.triton import TritonModel
from gateway.settings import Settings

logger = logging.getLogger("gateway.lifecycle")


class VersionUnavailable(Exception):
    """A version a rollout state names cannot be served (not exported, not loaded in Triton, not matching)."""


@dataclass(eq=False)
class ServedVersion:
    """One version's service and analyzer, and the requests (answers and shadow work) using it now."""

    version: str
    service: SentimentService
    analyzer: Analyzer
    in_flight: int = 0
    retired: bool = False

    @property
    def metadata(self) -> ServingMetadata:
        return self.service.metadata


class VersionPool:
    """Opens versions, lends them to requests, and closes a retired one when nobody uses it any more."""

    def __init__(self, settings: Settings, cache: ResultCache | None) -> None:
        self.settings = settings
        self.cache = cache
        self.open_versions: set[ServedVersion] = set()
        self.closing: set[asyncio.Task] = set()  # strong references: the loop keeps none to its tasks

    async def open(self, version: str | None, strict: bool) -> ServedVersion:
        """The service of ``version`` (None: GATEWAY_MODEL_VERSION or the highest exported).

        ``strict`` (a state being applied while serving): the version must be exported, loaded in Triton and
        match its metadata, or ``VersionUnavailable`` says why. Not strict (start-up): as a gateway always
        started, a Triton not up yet is only a warning (/readyz says 503 until it is), a mismatch stops it.
        """
        wanted = int(version) if version is not None else self.settings.model_version
        try:
            version_dir, name = resolve_version(self.settings.model_repository, self.settings.model_name, wanted)
        except NoServedVersion as error:
            if strict:
                raise VersionUnavailable(f"not exported ({error})") from error
            raise ModelMismatch(
                f"{error} (GATEWAY_MODEL_REPOSITORY / GATEWAY_MODEL_VERSION); run `make export` first"
            ) from error
        try:
            metadata = ServingMetadata.read(version_dir)
        except (OSError, ValueError, TypeError) as error:
            if strict:  # a damaged export must not stop a worker that serves another version
                raise VersionUnavailable(f"unreadable serving metadata in {version_dir} ({error})") from error
            raise
        triton = TritonModel(self.settings, metadata, name)
        try:
            await self._check(triton, strict)
        except BaseException:
            await triton.close()
            raise
        encoder = TextEncoder(
            version_dir / metadata.tokenizer_dir / "tokenizer.json", metadata.max_length, self.settings.window_stride
        )
        reference = TrafficProfile.read(version_dir)
        drift = (
            DriftMonitor(reference, self.settings.drift_window, self.settings.drift_min_texts, name)
            if reference
            else None
        )
        if drift is None:
            logger.info("no reference profile in %s: drift gauges off (export with --reference-data)", version_dir)
        service = SentimentService(metadata, name, encoder, triton, self.cache, drift, self.settings)
        served = ServedVersion(name, service, Analyzer(service))
        self.open_versions.add(served)
        logger.info(
            "opened %s version %s from %s via %s", metadata.model_name, name, version_dir, self.settings.triton_url
        )
        return served

    async def _check(self, triton: TritonModel, strict: bool) -> None:
        if strict:
            ready, reason = await triton.ready()
            if not ready:
                raise VersionUnavailable(f"not ready in Triton ({reason})")
            return
        try:
            await triton.verify()
        except (aiohttp.ClientError, OSError, InferenceServerException) as error:
            # Not fatal: Triton may simply start later. /readyz answers 503 and checks again until it is there.
            logger.warning(
                "Triton at %s not reachable yet (%s); will verify when it is", self.settings.triton_url, error
            )

    def acquire(self, served: ServedVersion) -> None:
        """A request starts using ``served``; synchronous, so no state change can slip between choice and use."""
        served.in_flight += 1

    def release(self, served: ServedVersion) -> None:
        served.in_flight -= 1
        if served.retired and served.in_flight == 0:
            self._close_later(served)

    def retire(self, served: ServedVersion) -> None:
        """No new request gets ``served``; it closes once the ones using it have finished (no failed request)."""
        served.retired = True
        if served.in_flight == 0:
            self._close_later(served)

    def _close_later(self, served: ServedVersion) -> None:
        task = asyncio.get_running_loop().create_task(self.close(served))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def close(self, served: ServedVersion) -> None:
        if served not in self.open_versions:
            return
        self.open_versions.discard(served)
        await served.service.close()
        logger.info("closed version %s", served.version)

    async def close_all(self) -> None:
        for served in list(self.open_versions):
            await self.close(served)
        await asyncio.gather(*self.closing, return_exceptions=True)
