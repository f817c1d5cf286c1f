import Foundation

/// A metric history as a line of block characters (▁▂▃▄▅▆▇█), lowest to highest value;
/// long histories are averaged into `width` buckets; non-finite values are blanks.
public enum Sparkline {
    static let blocks = Array("▁▂▃▄▅▆▇█")

    public static func render(_ values: [Double], width: Int = 32) -> String {
        guard !values.isEmpty, width > 0 else { return "" }
        var buckets: [Double] = []
        if values.count <= width {
            buckets = values
        } else {
            for i in 0..<width {
                let slice = values[(i * values.count / width)..<((i + 1) * values.count / width)].filter(\.isFinite)
                buckets.append(slice.isEmpty ? .nan : slice.reduce(0, +) / Double(slice.count))
            }
        }
        let finite = buckets.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return String(repeating: " ", count: buckets.count) }
        return String(buckets.map { value -> Character in
            guard value.isFinite else { return " " }
            guard high > low else { return blocks[3] }
            return blocks[min(7, Int((value - low) / (high - low) * 7 + 0.5))]
        })
    }
}

/// Plain-text views of runs for the terminal (`cem runs list | show | compare`).
public enum RunText {
    public static func time(_ milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    public static func duration(_ summary: RunSummary, now: Int64 = nowMilliseconds()) -> String {
        let seconds = Double((summary.endTime ?? now) - summary.startTime) / 1000
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm %02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh %02dm", Int(seconds) / 3600, Int(seconds) % 3600 / 60)
    }

    public static func value(_ value: Double) -> String {
        value.isNaN ? "nan" : value.isInfinite ? (value > 0 ? "inf" : "-inf") : String(format: "%.6g", value)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Rows with aligned columns (the last column is not padded).
    static func table(_ rows: [[String]], indent: String = "") -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        let widths = (0..<columns).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            indent + row.enumerated().map { c, cell in c == row.count - 1 ? cell : pad(cell, widths[c]) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func remoteText(_ summary: RunSummary) -> String {
        summary.remotes.isEmpty ? "local" : summary.remotes.map { "\($0.complete ? "" : "queued for ")\($0.uri) run \($0.runID)" }
            .joined(separator: "; ")
    }

    public static func list(_ runs: [RunSummary]) -> String {
        var rows = [["RUN", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION", "MLFLOW"]]
        for run in runs {
            let mlflow = run.remotes.isEmpty ? "-" : run.remotes.map { $0.complete ? String($0.runID.prefix(8)) : "queued" }
                .joined(separator: ",")
            rows.append([run.shortID, run.experiment, run.name.isEmpty ? "-" : run.name, run.status.rawValue,
                         time(run.startTime), duration(run), mlflow])
        }
        return table(rows)
    }

    public static func show(_ run: RunDetails, sparklineWidth: Int = 32) -> String {
        let s = run.summary
        var lines = [
            "run \(s.id)" + (s.name.isEmpty ? "" : " (\(s.name))"),
            "experiment \(s.experiment), \(s.status.rawValue), started \(time(s.startTime)), \(duration(s))"
                + (s.status == .running ? " so far" : ""),
            "host \(s.host), pid \(s.pid); MLflow: \(remoteText(s))",
        ]
        if !run.params.isEmpty {
            lines.append("\nparams")
            lines.append(table(run.params.map { [$0.key, $0.value] }, indent: "  "))
        }
        let names = run.metricNames
        if !names.isEmpty {
            lines.append("\nmetrics (last value, its step, history)")
            lines.append(table(names.map { name in
                let history = run.history(name)
                return [name, value(history.last!.value), "step \(history.last!.step)",
                        Sparkline.render(history.map(\.value), width: sparklineWidth)]
            }, indent: "  "))
        }
        if !run.artifacts.isEmpty {
            lines.append("\nartifacts")
            lines.append(table(run.artifacts.map { [$0.path, "\($0.size) bytes", $0.file] }, indent: "  "))
        }
        let tags = run.tags.filter { !$0.key.hasPrefix("mlflow.") }
        if !tags.isEmpty {
            lines.append("\ntags")
            lines.append(table(tags.map { [$0.key, $0.value] }, indent: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// Params side by side (those that differ marked `*`), then the last value of every metric.
    public static func compare(_ runs: [RunDetails]) -> String {
        var rows = [[""] + runs.map { $0.summary.shortID }]
        rows.append(["experiment"] + runs.map(\.summary.experiment))
        rows.append(["status"] + runs.map(\.summary.status.rawValue))
        rows.append(["duration"] + runs.map { duration($0.summary) })
        var keys: [String] = []
        for run in runs { for (key, _) in run.params where !keys.contains(key) { keys.append(key) } }
        if !keys.isEmpty {
            rows.append(["params (* differ)"])
            for key in keys {
                let values = runs.map { $0.param(key) ?? "-" }
                rows.append([(Set(values).count > 1 ? "* " : "  ") + key] + values)
            }
        }
        var metrics: [String] = []
        for run in runs { for name in run.metricNames where !metrics.contains(name) { metrics.append(name) } }
        if !metrics.isEmpty {
            rows.append(["metrics (last value)"])
            for name in metrics {
                rows.append(["  " + name] + runs.map { run in run.last(name).map { value($0.value) } ?? "-" })
            }
        }
        return table(rows)
    }
}

/// One self-contained HTML page: per experiment, a table of its runs and, per metric, an inline
/// SVG chart with one curve per run.
public enum RunReport {
    public static let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf"]

    /// `prelude`: HTML placed before the runs (e.g. `cem benchmark`'s results table and chart).
    public static func html(_ runs: [RunDetails], title: String = "cem runs", prelude: String = "") -> String {
        var body = "<h1>\(escape(title))</h1>\n<p>\(runs.count) run(s), written \(escape(RunText.time(nowMilliseconds())))</p>\n"
        body += prelude
        var experiments: [String] = []
        for run in runs where !experiments.contains(run.summary.experiment) { experiments.append(run.summary.experiment) }
        for experiment in experiments {
            let members = runs.filter { $0.summary.experiment == experiment }
            body += "<section>\n<h2>\(escape(experiment))</h2>\n" + runTable(members)
            var metrics: [String] = []
            for run in members { for name in run.metricNames where !metrics.contains(name) { metrics.append(name) } }
            body += "<div class=\"charts\">\n"
            for name in metrics { body += chart(name, members) }
            body += "</div>\n</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
            th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
            th { background: #f3f3f3; }
            .charts { display: flex; flex-wrap: wrap; gap: 1em; }
            figure { margin: 0; } figcaption { font-weight: bold; font-size: 0.9em; }
            code { font-size: 0.85em; }
            </style></head><body>
            \(body)</body></html>

            """
    }

    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func runTable(_ runs: [RunDetails]) -> String {
        var keys: [String] = []
        for run in runs { for (key, _) in run.params where !keys.contains(key) { keys.append(key) } }
        var metrics: [String] = []
        for run in runs { for name in run.metricNames where !metrics.contains(name) { metrics.append(name) } }
        var html = "<table>\n<tr><th>run</th><th>status</th><th>started</th><th>duration</th><th>MLflow</th>"
        html += keys.map { "<th>\(escape($0))</th>" }.joined() + metrics.map { "<th>\(escape($0)) (last)</th>" }.joined()
        html += "<th>artifacts</th></tr>\n"
        for (index, run) in runs.enumerated() {
            let s = run.summary
            let colour = colours[index % colours.count]
            html += "<tr><td><span style=\"color:\(colour)\">■</span> <code>\(escape(s.shortID))</code>"
                + (s.name.isEmpty ? "" : " \(escape(s.name))") + "</td>"
            html += "<td>\(s.status.rawValue)</td><td>\(escape(RunText.time(s.startTime)))</td>"
            html += "<td>\(escape(RunText.duration(s)))</td><td>\(escape(RunText.remoteText(s)))</td>"
            html += keys.map { "<td>\(escape(run.param($0) ?? "-"))</td>" }.joined()
            html += metrics.map { name in "<td>\(run.last(name).map { RunText.value($0.value) } ?? "-")</td>" }.joined()
            html += "<td>" + run.artifacts.map { escape($0.path) }.joined(separator: "<br>") + "</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// A line chart of one metric: x = step, y = value, a polyline (or a dot for one point) per run.
    private static func chart(_ name: String, _ runs: [RunDetails]) -> String {
        let (width, height) = (440.0, 260.0)
        let (left, right, top, bottom) = (64.0, 12.0, 12.0, 36.0)
        let series = runs.enumerated().map { ($0.offset, $0.element.history(name).filter { $0.value.isFinite }) }
            .filter { !$0.1.isEmpty }
        let points = series.flatMap(\.1)
        guard let minStep = points.map(\.step).min(), let maxStep = points.map(\.step).max(),
              let low = points.map(\.value).min(), let high = points.map(\.value).max() else { return "" }
        let (x0, x1) = (Double(minStep), Double(maxStep == minStep ? minStep + 1 : maxStep))
        let pad = high > low ? (high - low) * 0.05 : max(abs(high) * 0.05, 0.5)
        let (y0, y1) = (low - pad, high + pad)
        func x(_ step: Int) -> Double { left + (Double(step) - x0) / (x1 - x0) * (width - left - right) }
        func y(_ value: Double) -> Double { top + (y1 - value) / (y1 - y0) * (height - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<figure><figcaption>\(escape(name))</figcaption>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-size=\"11\" font-family=\"sans-serif\">\n"
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" "
            + "fill=\"none\" stroke=\"#999\"/>\n"
        for k in 0...4 {
            let value = y0 + (y1 - y0) * Double(k) / 4
            svg += "<text x=\"\(f(left - 4))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\">\(escape(RunText.value(value)))</text>\n"
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" stroke=\"#eee\"/>\n"
        }
        svg += "<text x=\"\(f(left))\" y=\"\(f(height - bottom + 16))\">\(minStep)</text>\n"
        svg += "<text x=\"\(f(width - right))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"end\">\(maxStep)</text>\n"
        svg += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">step</text>\n"
        for (index, history) in series {
            let colour = colours[index % colours.count]
            let run = runs[index].summary.shortID
            if history.count == 1 {
                svg += "<circle data-run=\"\(run)\" cx=\"\(f(x(history[0].step)))\" cy=\"\(f(y(history[0].value)))\" r=\"3\" fill=\"\(colour)\"/>\n"
            } else {
                let path = history.map { "\(f(x($0.step))),\(f(y($0.value)))" }.joined(separator: " ")
                svg += "<polyline data-run=\"\(run)\" points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>\n"
            }
        }
        return svg + "</svg></figure>\n"
    }
}
