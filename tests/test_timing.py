"""The discrete-event layer against queueing theory, and its invariants."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gscsim.io import read_csv
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import ComputeSpec, TrafficSpec, expand, validate
from gscsim.run.timed import TIMESTAMPS, FrameJob, TimedLink, compute_times, simulate
from gscsim.run.traffic import arrivals
from gscsim.run.trial import run_trial


def _single_server_waits(rate, service_times, seed=0):
    times = arrivals(TrafficSpec(model="poisson", rate_hz=rate), len(service_times),
                     np.random.default_rng(seed))
    jobs = [FrameJob(float(t), 0, 0.0, float(d)) for t, d in zip(times, service_times)]
    sim = simulate([TimedLink("l", jobs, "rx")], {"rx": 1})
    return np.array([r["rx_wait_s"] for r in sim.records["l"]])


def _batch_means_interval(waits, warmup=1000, batches=40, confidence=0.99):
    """Mean and half-width by batch means (waits of one queue are correlated)."""
    means = np.array([b.mean() for b in np.array_split(waits[warmup:], batches)])
    half = stats.t.ppf(0.5 + confidence / 2, batches - 1) * means.std(ddof=1) / math.sqrt(batches)
    return means.mean(), half


def test_md1_mean_wait_matches_pollaczek_khinchine():
    lam, d = 0.7, 1.0                                   # rho = 0.7
    waits = _single_server_waits(lam, np.full(60_000, d))
    mean, half = _batch_means_interval(waits)
    expected = lam * d ** 2 / (2 * (1 - lam * d))       # P-K with deterministic service
    assert abs(mean - expected) <= half, (mean, half, expected)


def test_mm1_mean_wait_matches_theory():
    lam, mu = 0.6, 1.0
    spec = ComputeSpec(model="fixed", decode_s=1 / mu, distribution="exponential")
    service = [d for _, d in compute_times(spec, [{}] * 60_000, ("x", "x"),
                                           np.random.default_rng(1), None)]
    assert abs(np.mean(service) - 1 / mu) < 0.02
    waits = _single_server_waits(lam, np.array(service), seed=2)
    mean, half = _batch_means_interval(waits)
    expected = lam / (mu * (mu - lam))
    assert abs(mean - expected) <= half, (mean, half, expected)


def test_unloaded_link_latency_is_the_sum_of_its_stages():
    link = TimedLink("l", [FrameJob(0.5, 2048, 0.003, 0.011)], "rx", bandwidth_hz=1e6,
                     propagation_s=2e-6, overhead_s=1e-4)
    record = simulate([link], {"rx": 1}).records["l"][0]
    stages = 0.003 + (1e-4 + 2048 / 1e6) + 2e-6 + 0.011
    assert record["latency_s"] == pytest.approx(stages, rel=1e-12, abs=1e-15)
    assert record["queue_wait_s"] == 0
    assert record["encode_start_s"] == record["arrival_s"] == 0.5


def test_retransmissions_cost_airtime_decode_and_feedback():
    link = TimedLink("l", [FrameJob(0.0, 1000, 0.0, 0.01, attempts=3)], "rx", bandwidth_hz=1e6,
                     propagation_s=0.001)
    record = simulate([link], {"rx": 1}).records["l"][0]
    one = 1000 / 1e6 + 0.001 + 0.01
    assert record["latency_s"] == pytest.approx(3 * one + 2 * 0.001)


def test_shared_transmitter_serialises_encoding():
    jobs = [FrameJob(0.0, 0, 1.0, 0.0)]
    links = [TimedLink(n, list(jobs), "rx", transmitter="ap") for n in ("a", "b")]
    sim = simulate(links, {"rx": 2}, {"ap": 1})
    ends = sorted(r["encode_end_s"] for name in "ab" for r in sim.records[name])
    assert ends == [1.0, 2.0]


@st.composite
def networks(draw):
    n_links = draw(st.integers(1, 4))
    receivers = {f"r{i}": draw(st.integers(1, 3)) for i in range(draw(st.integers(1, 2)))}
    late = draw(st.sampled_from(["log", "drop"]))
    deadline = draw(st.one_of(st.none(), st.floats(0.01, 2.0)))
    links = []
    for i in range(n_links):
        gaps = draw(st.lists(st.floats(0, 0.5), min_size=1, max_size=12))
        jobs = [FrameJob(float(t), draw(st.integers(0, 5000)), draw(st.floats(0, 0.2)),
                         draw(st.floats(0, 0.3)), draw(st.integers(1, 3)))
                for t in np.cumsum(gaps)]
        links.append(TimedLink(f"l{i}", jobs, draw(st.sampled_from(sorted(receivers))),
                               transmitter=draw(st.sampled_from([None, "ap"])),
                               bandwidth_hz=1e5, propagation_s=draw(st.floats(0, 0.01)),
                               overhead_s=draw(st.floats(0, 0.01)), deadline_s=deadline,
                               late=late))
    return links, receivers, {"ap": draw(st.integers(1, 2))}


@settings(max_examples=60, deadline=None)
@given(networks())
def test_timestamps_are_consistent_and_servers_never_overbooked(network):
    links, receivers, transmitters = network
    sim = simulate(links, receivers, transmitters)
    for link in links:
        for job, rec in zip(link.jobs, sim.records[link.name]):
            assert rec["arrival_s"] == pytest.approx(job.arrival_s)
            if rec["outcome"] == "dropped":
                assert math.isnan(rec["latency_s"])
                continue
            stamps = [rec[k] for k in TIMESTAMPS]
            assert all(a <= b + 1e-12 for a, b in zip(stamps, stamps[1:])), stamps
            minimum = job.encode_s + job.attempts * (
                link.overhead_s + job.symbols / link.bandwidth_hz + link.propagation_s
                + job.decode_s) + (job.attempts - 1) * link.propagation_s
            assert rec["latency_s"] >= minimum - 1e-9
            if link.deadline_s is not None:
                on_time = rec["decode_end_s"] <= rec["arrival_s"] + link.deadline_s
                assert rec["outcome"] == ("on_time" if on_time else "late")
    for name, intervals in sim.busy.items():
        events = sorted([(s, 1) for s, e in intervals if e > s] +
                        [(e, -1) for s, e in intervals if e > s])   # ends sort before starts
        load = 0
        for _, step in events:
            load += step
            assert load <= sim.capacity[name], name


def _timed(tiny, **timing):
    tiny["timing"] = {"traffic": {"model": "periodic", "rate_hz": 2}, **timing}
    tiny["sweep"] = {"snr_db": [5], "cbr": ["1/12"]}
    tiny["channels"] = [{"name": "awgn"}]
    return tiny


def test_timing_does_not_change_quality(tiny_scenario):
    plain = validate(dict(tiny_scenario, sweep={"snr_db": [5], "cbr": ["1/12"]},
                          channels=[{"name": "awgn"}]))
    timed = validate(_timed(dict(tiny_scenario)))
    a = run_trial(plain, expand(plain)[0]).frames
    b = run_trial(timed, expand(timed)[0]).frames
    assert [(f["frame"], f["psnr"], f["ssim"]) for f in a] == \
        [(f["frame"], f["psnr"], f["ssim"]) for f in b]
    assert all(math.isfinite(f["latency_s"]) for f in b)


def test_arq_resends_failed_frames(tiny_scenario, monkeypatch):
    from conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "tests"))
    tiny = _timed(tiny_scenario, max_retransmissions=0,
                  compute={"model": "fixed", "encode_s": 0.001, "decode_s": 0.002},
                  propagation_s=0.001)
    tiny["transceivers"] = [{"name": "crc_bits:CRCBits"}]
    tiny["timing"]["traffic"]["frames"] = 300
    tiny["sweep"]["snr_db"] = [6]
    no_arq = validate(tiny)
    frames = run_trial(no_arq, expand(no_arq)[0]).frames
    errors = sum(not f["frame_ok"] for f in frames) / len(frames)
    assert 0.1 < errors < 0.5                       # BPSK at 6 dB, 128 bits: FER ~ 0.26
    tiny["timing"]["max_retransmissions"] = 3
    arq = validate(tiny)
    frames = run_trial(arq, expand(arq)[0]).frames
    assert sum(not f["frame_ok"] for f in frames) / len(frames) < errors / 5
    assert max(f["attempts"] for f in frames) > 1
    for f in frames:                                 # unloaded: each attempt adds its stages
        one = f["symbols"] / 1e6 + 0.001 + 0.002        # airtime + propagation + decode
        expected = 0.001 + f["attempts"] * one + (f["attempts"] - 1) * 0.001
        assert f["latency_s"] == pytest.approx(expected)


def test_late_frames_can_be_dropped():
    jobs = [FrameJob(0.5 * k, 0, 0.0, 1.0) for k in range(20)]     # twice the server's rate
    logged = simulate([TimedLink("l", jobs, "rx", deadline_s=1.5)], {"rx": 1}).records["l"]
    dropped = simulate([TimedLink("l", jobs, "rx", deadline_s=1.5, late="drop")],
                       {"rx": 1}).records["l"]
    assert {r["outcome"] for r in logged} == {"on_time", "late"}
    assert any(r["outcome"] == "dropped" for r in dropped)
    for r in dropped:                      # dropping sheds load: latency stays bounded
        if r["outcome"] != "dropped":
            assert r["decode_start_s"] <= r["arrival_s"] + 1.5
            assert r["latency_s"] <= 1.5 + 1.0
    assert max(r["latency_s"] for r in logged) > 5       # logging only: the queue grows


def test_trace_traffic_and_device_profile(tmp_path, tiny_scenario):
    (tmp_path / "trace.txt").write_text("# arrival times\n0.0\n0.25\n0.3\n")
    (tmp_path / "gpu.yaml").write_text("softcast: {encode_s: 0.01, decode_s: 0.5}\n")
    tiny = _timed(tiny_scenario,
                  compute={"model": "profile", "profile": str(tmp_path / "gpu.yaml")})
    tiny["timing"]["traffic"] = {"model": "trace", "file": str(tmp_path / "trace.txt")}
    tiny["output"] = str(tmp_path / "out")
    root = run_loaded(validate(tiny), tmp_path / "out", progress=False)
    frames = read_csv(root / "frames.csv")
    assert [f["arrival_s"] for f in frames] == [0.0, 0.25, 0.3]
    assert [f["decode_end_s"] - f["decode_start_s"] for f in frames] == \
        pytest.approx([0.5, 0.5, 0.5])
    assert frames[1]["rx_wait_s"] > 0.2                # queued behind the first frame
    summary = read_csv(root / "summary.csv")
    assert summary[0]["link"] == "all" and summary[0]["latency_p95_s"] > 0.5
    assert (root / "plots" / "latency_s_cdf.png").exists()


def test_profile_without_the_transceiver_is_a_clear_error(tmp_path, tiny_scenario):
    (tmp_path / "gpu.yaml").write_text("swinjscc: {encode_s: 0.01, decode_s: 0.5}\n")
    tiny = validate(_timed(tiny_scenario, compute={"model": "profile",
                                                   "profile": str(tmp_path / "gpu.yaml")}))
    with pytest.raises(ValueError, match="no entry for transceiver 'softcast' \\(has: swinjscc\\)"):
        run_trial(tiny, expand(tiny)[0])


def test_network_references_are_validated(tiny_scenario):
    from gscsim.io import ScenarioError

    tiny = _timed(tiny_scenario)
    tiny["network"] = {"receivers": {"edge": {"servers": 2}},
                       "links": [{"name": "u", "receiver": "cloud", "transceiver": "nope"}]}
    with pytest.raises(ScenarioError) as info:
        validate(tiny)
    assert "receiver 'cloud' is not one of receivers (edge)" in str(info.value)
    tiny["network"]["links"][0]["receiver"] = "edge"
    with pytest.raises(ScenarioError, match="network.links\\[0\\].transceiver: 'nope' is not"):
        validate(tiny)


def test_users_sweep_needs_timing(tiny_scenario):
    from gscsim.io import ScenarioError

    tiny_scenario["sweep"]["users"] = [1, 2]
    with pytest.raises(ScenarioError, match="need a `timing` section"):
        validate(tiny_scenario)


def test_links_can_differ_and_share_a_receiver(tmp_path, tiny_scenario):
    tiny = _timed(tiny_scenario, compute={"model": "fixed", "decode_s": 0.3})
    tiny["channels"] = [{"name": "awgn", "label": "AWGN"},
                        {"name": "rayleigh_fast", "label": "fast"}]
    tiny["network"] = {"receivers": {"edge": {"servers": 1}},
                       "links": [{"name": "near", "snr_db": 20, "receiver": "edge"},
                                 {"name": "far", "snr_db": 0, "channel": "fast", "count": 2,
                                  "receiver": "edge",
                                  "traffic": {"model": "periodic", "rate_hz": 1, "offset_s": 0.1}}]}
    scenario = validate(tiny)
    root = run_loaded(scenario, tmp_path / "out", progress=False, plots=False)
    frames = read_csv(root / "frames.csv")
    links = {f["link"]: (f["link_channel"], f["link_snr_db"]) for f in frames
             if f["channel"] == "AWGN"}
    assert links == {"near": ("AWGN", 20.0), "far1": ("fast", 0.0), "far2": ("fast", 0.0)}
    near = [f["psnr"] for f in frames if f["link"] == "near" and f["channel"] == "AWGN"]
    far = [f["psnr"] for f in frames if f["link"] == "far1" and f["channel"] == "AWGN"]
    assert np.mean(near) > np.mean(far) + 3
    summary = [r for r in read_csv(root / "summary.csv") if r["channel"] == "AWGN"]
    assert [r["link"] for r in summary] == ["all", "near", "far1", "far2"]
    assert summary[0]["n_frames"] == 9
    assert summary[0]["queue_wait_mean_s"] > 0           # three links, one decode server
