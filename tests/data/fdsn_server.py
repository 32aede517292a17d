"""A small FDSN web service on 127.0.0.1 for tests: fdsnws-dataselect/1 and fdsnws-station/1.

It answers what obspy 1.5.1's ``Client(base_url)`` asks at start-up (the
``application.wadl`` of dataselect, station and event, and event ``catalogs`` /
``contributors``: we serve obspy's bundled dataselect and station WADLs and answer 404 for
the event service) and the ``query`` and ``version`` endpoints of dataselect and station.

Data are obspy's bundled example record ``io/mseed/tests/data/dataquality-m.mseed``
(GT.BOSA BHE/BHN/BHZ, 40 Hz), relabelled to the requested network/station as BH2/BH1/BHZ,
re-timed to start at the requested start time and tiled to the requested length (the
samples from start to end inclusive, as real services send). Location ``"10"`` carries the
record, location ``"00"`` the record times -1 (so a test can see which one was used).
Station metadata: an inventory with those channels, the response of GR.FUR..BHZ from
obspy's bundled example inventory.

Settings: ``fail_queries`` (1-based numbers of the dataselect queries answered 503),
``gap_stations`` (stations served with ``gap_samples`` samples cut out of the middle).
"""
from __future__ import annotations

import copy
import io
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import obspy
from obspy.core.inventory import Channel, Equipment, Inventory, Network, Site, Station

OBSPY_DIR = Path(obspy.__file__).parent
SOURCE = OBSPY_DIR / "io" / "mseed" / "tests" / "data" / "dataquality-m.mseed"
WADL_DIR = OBSPY_DIR / "clients" / "fdsn" / "tests" / "data"
RELABEL = {"BHN": "BH1", "BHE": "BH2", "BHZ": "BHZ"}
LOCATIONS = {"10": 1, "00": -1}
COORDINATES = {"MAJO": (36.5457, 138.2041, 405.0), "MA2": (59.5756, 150.77, 339.0)}


class FDSNTestServer:
    """Serve fdsnws-dataselect/1 and fdsnws-station/1 on a free port of 127.0.0.1.

    Args:
        fail_queries: dataselect query numbers (1-based, counted over the server's life)
            answered with HTTP 503.
        gap_stations: stations whose data get ``gap_samples`` samples removed mid-record.
        gap_samples: size of that gap.

    Attributes:
        base_url: ``http://127.0.0.1:<port>`` once started.
        requests: ``(path, params)`` of every request, in order.
        served: ``{(station, location, starttime): obspy.Stream}`` of every dataselect answer.
    """

    def __init__(self, *, fail_queries=(), gap_stations=(), gap_samples: int = 40):
        self.fail_queries = set(fail_queries)
        self.gap_stations = set(gap_stations)
        self.gap_samples = gap_samples
        self.requests: list[tuple[str, dict]] = []
        self.served: dict = {}
        self.n_dataselect = 0
        self._source = obspy.read(str(SOURCE))
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> "FDSNTestServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server._handle(self)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def dataselect_queries(self) -> list[dict]:
        """Parameters of every dataselect query received."""
        return [p for path, p in self.requests if path.endswith("/dataselect/1/query")]

    # --- responses -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        with self._lock:
            self.requests.append((url.path, params))
        routes = {"/fdsnws/dataselect/1/application.wadl": lambda: ((WADL_DIR / "dataselect.wadl").read_bytes(),
                                                                     "application/xml"),
                  "/fdsnws/station/1/application.wadl": lambda: ((WADL_DIR / "station.wadl").read_bytes(),
                                                                  "application/xml"),
                  "/fdsnws/dataselect/1/version": lambda: (b"1.1.0", "text/plain"),
                  "/fdsnws/station/1/version": lambda: (b"1.1.0", "text/plain"),
                  "/fdsnws/dataselect/1/query": lambda: self._dataselect(params),
                  "/fdsnws/station/1/query": lambda: self._station(params)}
        if url.path not in routes:
            return self._reply(h, 404, b"Not Found", "text/plain")
        try:
            body, ctype = routes[url.path]()
        except _HTTPError as err:
            return self._reply(h, err.code, err.text.encode(), "text/plain")
        self._reply(h, 200, body, ctype)

    @staticmethod
    def _reply(h, code: int, body: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _selection(self, params):
        stations = params.get("station", "").split(",")
        locations = [l for l in LOCATIONS if _match(params.get("location", "*"), l)]
        channels = [c for c in RELABEL.values() if _match(params.get("channel", "*"), c)]
        if not stations or not locations or not channels:
            raise _HTTPError(204, "")
        return params.get("network", "IU"), stations, locations, channels

    def _dataselect(self, params):
        with self._lock:
            self.n_dataselect += 1
            number = self.n_dataselect
        if number in self.fail_queries:
            raise _HTTPError(503, "Service temporarily unavailable (test failure)")
        net, stations, locations, channels = self._selection(params)
        t0, t1 = obspy.UTCDateTime(params["starttime"]), obspy.UTCDateTime(params["endtime"])
        st = obspy.Stream()
        for sta in stations:
            for loc in locations:
                for src in self._source:
                    cha = RELABEL[src.stats.channel]
                    if cha not in channels:
                        continue
                    rate = src.stats.sampling_rate
                    n = int(np.floor((t1 - t0) * rate + 1e-6)) + 1
                    data = np.resize(src.data.astype(np.int32), n) * LOCATIONS[loc]
                    head = {"network": net, "station": sta, "location": loc, "channel": cha,
                            "sampling_rate": rate, "starttime": t0}
                    tr = obspy.Trace(data.astype(np.int32), header=head)
                    if sta in self.gap_stations:
                        a, b = tr.copy(), tr.copy()
                        mid = n // 2
                        a.data = a.data[:mid]
                        b.data = b.data[mid + self.gap_samples:]
                        b.stats.starttime = t0 + (mid + self.gap_samples) / rate
                        st += obspy.Stream([a, b])
                    else:
                        st += tr
        for sta in stations:
            for loc in locations:
                self.served[(sta, loc, str(t0))] = st.select(station=sta, location=loc).copy()
        buf = io.BytesIO()
        st.write(buf, format="MSEED", reclen=512)
        return buf.getvalue(), "application/vnd.fdsn.mseed"

    def _station(self, params):
        net_code, stations, locations, channels = self._selection(params)
        response = obspy.read_inventory().select(network="GR", station="FUR", channel="BHZ")[0][0][0].response
        net = Network(code=net_code, stations=[])
        for sta in stations:
            lat, lon, elev = COORDINATES.get(sta, (0.0, 0.0, 0.0))
            s = Station(code=sta, latitude=lat, longitude=lon, elevation=elev, site=Site(name=f"test {sta}"))
            for loc in locations:
                for cha in channels:
                    az, dip = {"BH1": (0.0, 0.0), "BH2": (90.0, 0.0), "BHZ": (0.0, -90.0)}[cha]
                    c = Channel(code=cha, location_code=loc, latitude=lat, longitude=lon, elevation=elev, depth=0.0,
                                azimuth=az, dip=dip, sample_rate=self._source[0].stats.sampling_rate)
                    c.response = copy.deepcopy(response)
                    c.sensor = Equipment(description="Streckeisen STS-2 High-gain")
                    s.channels.append(c)
            net.stations.append(s)
        inv = Inventory(networks=[net], source="seis_keras test server")
        buf = io.BytesIO()
        inv.write(buf, format="STATIONXML")
        return buf.getvalue(), "application/xml"


class _HTTPError(Exception):
    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code, self.text = code, text


def _match(pattern: str, code: str) -> bool:
    """FDSN code matching: comma lists, ``*`` and ``?`` wildcards, ``--`` for the empty location."""
    import fnmatch

    return any(fnmatch.fnmatchcase(code, p.replace("--", "")) for p in pattern.split(","))
