import Foundation
import Testing
import TelmeCLI
import TelmeCorpus
import TelmeEvaluation
import TelmeReport

/// `telme report` on a real annotation run (the tiny fixture teacher over a corpus of hostile
/// lines with gold labels): what the page holds, that record text stays text, and that the page
/// renders in a real browser.
@Suite struct ReportPageTests {
    /// Transcript text that must reach the page as data, never as markup.
    static let texts = [
        "</script><script>document.body.setAttribute('data-pwned','1')</script>",
        "<b id=\"pwned\">bold</b> & &amp; <!-- not a comment",
        "line\u{2028}separator \"quotes\" 'single' \\ back</SCRIPT >slash",
        "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">",
        "Hi, how are you?",
        "Fine. ]]> <![CDATA[ x",
    ]
    static let speakers = ["<b id=\"pwned\">Mo</b>", "Ana", "Ana", "Ben", "Ana", "Ben"]
    static let dialogues = ["d<1>", "d<1>", "d<1>", "2", "2", "2"]
    static let golds = ["anger", "neutral", "neutral", "joy", "neutral", "sadness"]

    static func field(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The corpus annotated by the real CLI (teacher-only fixture model), in a new folder.
    static func annotated() async throws -> URL {
        let dir = try AnnotateTests.temporaryDirectory()
        var csv = "Sr No.,Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID,StartTime,EndTime\n"
        var index: [String: Int] = [:]
        for i in texts.indices {
            let u = index[dialogues[i], default: 0]
            index[dialogues[i]] = u + 1
            csv += "\(i + 1),\(field(texts[i])),\(field(speakers[i])),\(golds[i]),\(field(dialogues[i])),\(u),"
                + "\"00:00:0\(2 * u),000\",\"00:00:0\(2 * u + 1),500\"\n"
        }
        let corpus = dir.appendingPathComponent("hostile.csv")
        try Data(csv.utf8).write(to: corpus)
        let out = dir.appendingPathComponent("out")
        try await AnnotateTests.telme(["annotate", "--model", AnnotateTests.model.path, "--corpus", corpus.path,
                                       "--layout", "meld", "--out", out.path])
        return out
    }

    /// The JSON document inside the page's data element.
    static func payload(_ html: String) throws -> [String: Any] {
        let open = "<script type=\"application/json\" id=\"telme-data\">"
        let start = try #require(html.range(of: open)).upperBound
        let end = try #require(html.range(of: "</script>", range: start..<html.endIndex)).lowerBound
        return try #require(try JSONSerialization.jsonObject(with: Data(html[start..<end].utf8)) as? [String: Any])
    }

    @Test func recordTextStaysData() async throws {
        let html = try RunReport(directory: try await Self.annotated()).html()
        // Only the page's own two script elements close; no record text opens a comment or CDATA.
        #expect(html.components(separatedBy: "</script>").count - 1 == 2)
        #expect(html.lowercased().components(separatedBy: "</script").count - 1 == 2)
        #expect(!html.contains("<!--") && !html.contains("<![CDATA[") && !html.contains("<b id"))
        // The data round-trips exactly: every text and speaker as the corpus holds it.
        let data = try Self.payload(html)
        let dialogues = try #require(data["dialogues"] as? [[String: Any]])
        #expect(dialogues.map { $0["id"] as? String } == ["d<1>", "2"])
        let utterances = dialogues.flatMap { $0["utterances"] as? [[Any]] ?? [] }
        #expect(utterances.map { $0[7] as? String } == Self.texts)
        let speakers = try #require(data["speakers"] as? [String])
        #expect(utterances.map { speakers[$0[0] as! Int] } == Self.speakers)
    }

    @Test func aggregatesAreTheRecordsAndEvaluatesNumbers() async throws {
        let run = try await Self.annotated()
        let report = try RunReport(directory: run)
        let labels = AnnotateTests.labels
        #expect(report.classes == labels && report.modelClasses == 7)
        let records = try String(contentsOf: run.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let predicted = records.map { $0["label"] as! String }
        #expect(report.overall.utterances == 6)
        #expect(report.overall.predicted == labels.map { l in predicted.filter { $0 == l }.count })
        #expect(report.overall.gold == labels.map { l in Self.golds.filter { $0 == l }.count })
        // Per speaker, most utterances first: Ana (3), Ben (2), Mallory (1).
        #expect(report.perSpeaker.map(\.name) == ["Ana", "Ben", Self.speakers[0]])
        #expect(report.perSpeaker.map(\.utterances) == [3, 2, 1])
        let ana = zip(Self.speakers, predicted).filter { $0.0 == "Ana" }.map(\.1)
        #expect(report.perSpeaker[0].predicted == labels.map { l in ana.filter { $0 == l }.count })
        #expect(report.media["text"] == ["ok": 6] && report.media["audio"] == ["missing": 6])
        #expect(report.records == ["ok": 6, "degraded": 0, "failed": 0])
        // The label's probability is the record's confidence, in thousandths.
        let first = report.dialogues[0].utterances[0]
        let confidence = try #require(records[0]["confidence"] as? Double)
        #expect(first.label == labels.firstIndex(of: predicted[0]))
        #expect(first.permille[first.label] == Int((confidence * 1000).rounded()))
        #expect(first.start == 0 && first.end == 1.5)
        // Scores are telme evaluate's own.
        #expect(report.evaluation == (try Evaluation.evaluate(directory: run)))
        #expect(report.evaluation?.metrics.count == 6)
        #expect(report.provenance.contains(["model.labels", labels.joined(separator: " ")]))
    }

    @Test func aBrokenFolderIsRefusedNamingTheLine() async throws {
        let run = try await Self.annotated()
        let dir = try AnnotateTests.temporaryDirectory()
        try FileManager.default.copyItem(at: run.appendingPathComponent("run.json"),
                                         to: dir.appendingPathComponent("run.json"))
        let lines = try String(contentsOf: run.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        try Data((lines[0] + "\n{\"dialogue\": \n").utf8).write(to: dir.appendingPathComponent("annotations.jsonl"))
        #expect(throws: EvaluationError(file: dir.appendingPathComponent("annotations.jsonl").path, line: 2,
                                    message: "not a JSON object")) {
            try RunReport(directory: dir)
        }
        let missing = try AnnotateTests.temporaryDirectory()
        #expect(throws: EvaluationError.self) { try RunReport(directory: missing) }
        guard TelmeBinary.available else { return }
        let result = try TelmeBinary.run(["report", dir.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("annotations.jsonl:2: not a JSON object"), "\(result.stderr)")
    }

    // MARK: the browser

    static let chromium: String? = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap { name in
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }.first

    /// Runs headless Chromium on a page (at most 90 s) and returns its stdout.
    static func browse(_ page: URL, _ options: [String]) throws -> String {
        let profile = try AnnotateTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["90", chromium!, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--user-data-dir=\(profile.path)"] + options + [page.absoluteString]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "chromium \(options)")
        return String(decoding: data, as: UTF8.self)
    }

    @Test(.enabled(if: chromium != nil && TelmeBinary.available,
                   "needs Debian's chromium package (Scripts/deps.sh --browser installs it) and the built telme"))
    func rendersInHeadlessChromium() async throws {
        let run = try await Self.annotated()
        let dir = try AnnotateTests.temporaryDirectory()
        let page = dir.appendingPathComponent("report.html")
        let result = try TelmeBinary.run(["report", run.path, "-o", page.path, "--title", "</title><b id=\"pwned\">"])
        #expect(result.status == 0, "\(result.stderr)")

        let dom = try Self.browse(page, ["--dump-dom"])
        // The script drew every utterance and said so (on <body>); nothing in the records ran or
        // became markup: outside the two script elements, no injected attribute or element.
        let body = try #require(dom.range(of: "<body[^>]*>", options: .regularExpression).map { String(dom[$0]) })
        #expect(body.contains("data-rendered=\"6\""), "\(body)")
        #expect(!body.contains("data-render-error") && !body.contains("data-pwned"), "\(body)")
        let markup = dom.replacingOccurrences(of: "<script[^>]*>[^<]*(<(?!/script>)[^<]*)*</script>", with: "",
                                              options: .regularExpression)
        #expect(markup.count < dom.count - 5000)  // both scripts went
        #expect(!markup.contains("<b id") && !markup.contains("<img") && !markup.contains("data-pwned"))
        #expect(markup.components(separatedBy: " data-u=\"").count - 1 == 6)
        // The hostile speaker is a lane name, as text; the hostile title too.
        #expect(markup.contains(">&lt;b id=\"pwned\"&gt;Mo&lt;/b&gt;</text>"))
        #expect(markup.contains("<h1 id=\"title\">&lt;/title&gt;&lt;b id=\"pwned\"&gt;</h1>"))
        #expect(markup.contains("Confusion matrix"))

        // A screenshot of the page holds more than one of the same page without its drawing script.
        let html = try String(contentsOf: page, encoding: .utf8)
        let script = try #require(html.range(of: "<script>", options: .backwards))
        let undrawn = dir.appendingPathComponent("undrawn.html")
        try Data((html[..<script.lowerBound] + "</body></html>").utf8).write(to: undrawn)
        let drawn = dir.appendingPathComponent("drawn.png"), bare = dir.appendingPathComponent("bare.png")
        _ = try Self.browse(page, ["--hide-scrollbars", "--window-size=1000,1200", "--screenshot=\(drawn.path)"])
        _ = try Self.browse(undrawn, ["--hide-scrollbars", "--window-size=1000,1200", "--screenshot=\(bare.path)"])
        let png = try Data(contentsOf: drawn), blank = try Data(contentsOf: bare)
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(png.count > 3 * blank.count, "\(png.count) vs \(blank.count) bytes")
    }
}
