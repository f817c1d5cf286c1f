import Foundation

/// `cem benchmark`'s results table (`results.csv`: benchmark, pretraining, finetune_layer, iters, IoU,
/// seconds, run_id), read and written here so `cem runs report` can show it without the engine, and
/// its HTML: the table and the paper's figure — the IoU difference from random init per benchmark, in
/// percent of random init's IoU, one bar per pretraining.
public struct BenchmarkResults: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var benchmark: String
        public var pretraining: String
        public var finetuneLayer: String
        public var iterations: Int
        public var iou: Double
        public var seconds: Double
        public var runID: String
        public init(benchmark: String, pretraining: String, finetuneLayer: String, iterations: Int, iou: Double, seconds: Double,
                    runID: String) {
            self.benchmark = benchmark
            self.pretraining = pretraining
            self.finetuneLayer = finetuneLayer
            self.iterations = iterations
            self.iou = iou
            self.seconds = seconds
            self.runID = runID
        }
        /// A grid cell's identity: a finished cell is not run again.
        public var cell: String { "\(benchmark)|\(pretraining)|\(finetuneLayer)|\(iterations)" }
    }

    public var rows: [Row] = []
    public static let fileName = "results.csv"
    static let header = "benchmark,pretraining,finetune_layer,iters,IoU,seconds,run_id"

    public init(rows: [Row] = []) { self.rows = rows }

    public static func load(_ path: String) throws -> BenchmarkResults {
        guard FileManager.default.fileExists(atPath: path) else { return BenchmarkResults() }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var rows: [Row] = []
        for (number, line) in text.split(separator: "\n").enumerated() where number > 0 && !line.isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 6, let iterations = Int(f[3]), let iou = Double(f[4]), let seconds = Double(f[5]) else {
                throw TrackingError(.invalid, "\(path):\(number + 1): not a results row: \(line)")
            }
            rows.append(Row(benchmark: f[0], pretraining: f[1], finetuneLayer: f[2], iterations: iterations, iou: iou,
                            seconds: seconds, runID: f.count > 6 ? f[6] : ""))
        }
        return BenchmarkResults(rows: rows)
    }

    public var csv: String {
        ([Self.header] + rows.map { r in
            [r.benchmark, r.pretraining, r.finetuneLayer, "\(r.iterations)", "\(r.iou)", String(format: "%.1f", r.seconds), r.runID]
                .map { $0.replacingOccurrences(of: ",", with: ";") }.joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    /// Rewrites the file atomically (temp file + rename): an interrupted grid keeps every finished row.
    public func save(_ path: String) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: temporary))
        _ = try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }

    public func contains(cell: String) -> Bool { rows.contains { $0.cell == cell } }

    /// 100 · (IoU − IoU of random_init) / IoU of random_init, per benchmark and pretraining (same
    /// iterations), for every benchmark that has a random_init row.
    public var differences: [(benchmark: String, pretraining: String, percent: Double)] {
        var out: [(String, String, Double)] = []
        for row in rows where row.pretraining != "random_init" && row.iou.isFinite {
            guard let base = rows.first(where: { $0.benchmark == row.benchmark && $0.pretraining == "random_init"
                                                 && $0.iterations == row.iterations }), base.iou > 0, base.iou.isFinite else { continue }
            out.append((row.benchmark, row.pretraining, 100 * (row.iou - base.iou) / base.iou))
        }
        return out
    }

    /// The results table and the bar chart, for `RunReport.html(prelude:)`.
    public var html: String {
        guard !rows.isEmpty else { return "" }
        var html = "<section>\n<h2>Benchmark results</h2>\n<table>\n<tr><th>benchmark</th><th>pretraining</th>"
            + "<th>finetune_layer</th><th>iters</th><th>IoU</th><th>seconds</th><th>run</th></tr>\n"
        for r in rows {
            html += "<tr><td>\(RunReport.escape(r.benchmark))</td><td>\(RunReport.escape(r.pretraining))</td>"
                + "<td>\(RunReport.escape(r.finetuneLayer))</td><td>\(r.iterations)</td><td>\(String(format: "%.4f", r.iou))</td>"
                + "<td>\(String(format: "%.0f", r.seconds))</td><td><code>\(RunReport.escape(String(r.runID.prefix(12))))</code></td></tr>\n"
        }
        html += "</table>\n" + differenceChart + "</section>\n"
        return html
    }

    /// Horizontal bars: one group per benchmark, one bar per pretraining, zero line at random init.
    var differenceChart: String {
        let values = differences
        guard !values.isEmpty else { return "<p>No random_init rows to compare with: no difference chart.</p>\n" }
        var benchmarks: [String] = [], pretrainings: [String] = []
        for v in values {
            if !benchmarks.contains(v.benchmark) { benchmarks.append(v.benchmark) }
            if !pretrainings.contains(v.pretraining) { pretrainings.append(v.pretraining) }
        }
        let bar = 14.0, gap = 10.0, left = 130.0, width = 640.0, right = 60.0
        let height = Double(benchmarks.count) * (Double(pretrainings.count) * bar + gap) + 50
        let low = min(0, values.map(\.percent).min()!), high = max(0, values.map(\.percent).max()!)
        let span = max(high - low, 1)
        func x(_ v: Double) -> Double { left + (v - low) / span * (width - left - right) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<figure><figcaption>IoU difference from random init (%)</figcaption>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"11\" font-family=\"sans-serif\">\n"
        var y = 10.0
        for benchmark in benchmarks {
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + bar))\" text-anchor=\"end\">\(RunReport.escape(benchmark))</text>\n"
            for (k, pretraining) in pretrainings.enumerated() {
                if let v = values.first(where: { $0.benchmark == benchmark && $0.pretraining == pretraining }) {
                    let (a, b) = (x(min(0, v.percent)), x(max(0, v.percent)))
                    svg += "<rect data-pretraining=\"\(RunReport.escape(pretraining))\" x=\"\(f(a))\" y=\"\(f(y))\" width=\"\(f(max(b - a, 1)))\" "
                        + "height=\"\(f(bar - 2))\" fill=\"\(RunReport.colours[k % RunReport.colours.count])\"/>\n"
                    svg += "<text x=\"\(f(b + 3))\" y=\"\(f(y + bar - 4))\">\(String(format: "%+.1f", v.percent))</text>\n"
                }
                y += bar
            }
            y += gap
        }
        svg += "<line x1=\"\(f(x(0)))\" x2=\"\(f(x(0)))\" y1=\"4\" y2=\"\(f(y))\" stroke=\"#333\"/>\n"
        for (k, pretraining) in pretrainings.enumerated() {
            let lx = left + Double(k) * 150
            svg += "<rect x=\"\(f(lx))\" y=\"\(f(y + 8))\" width=\"10\" height=\"10\" fill=\"\(RunReport.colours[k % RunReport.colours.count])\"/>"
                + "<text x=\"\(f(lx + 14))\" y=\"\(f(y + 17))\">\(RunReport.escape(pretraining))</text>\n"
        }
        return svg + "</svg></figure>\n"
    }
}
