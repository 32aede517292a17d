"""Continuous data on the model's sampling grid (step 1 of :func:`seis_keras.scan.scan`).

The work is :func:`seis_keras.data.records.continuous_stations` (resampled, merged, components
aligned, gap mask); this gives it the rate and component order of the model's contract.
"""
from __future__ import annotations

from seis_keras.data.records import continuous_stations
from seis_keras.models.contract import InputContract


def prepare_stream(stream, contract: InputContract, *, channel_map=None) -> list[dict]:
    """Resample and merge each station's components on the contract's grid.

    Args:
        stream: ``obspy.Stream``.
        contract: gives the target rate and the component order.
        channel_map: explicit channel code -> component letter (see ``ingest.component_of``).

    Returns:
        One dict per station: ``id`` (``NET.STA.LOC``), ``channel`` (band+instrument code),
        ``start`` (``UTCDateTime`` of sample 0), ``data`` ``(T, C)`` float32 in
        ``contract.component_order``, ``gap`` ``(T,)`` bool.
    """
    return continuous_stations(stream, sampling_rate=float(contract.sampling_rate),
                               component_order=contract.component_order, channel_map=channel_map)
