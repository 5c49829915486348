-- Prints one machine-readable line: RESULT {"rps":..,"p50_ms":..,"p99_ms":..,"non2xx":..}
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f,"mean_ms":%.2f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
