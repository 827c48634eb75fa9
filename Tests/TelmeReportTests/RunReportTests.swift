import Foundation
import Testing
@testable import TelmeReport

/// `RunReport` on a hand-written run folder: what the page is given, and that no record text
/// can leave the page's data (the page itself is checked end to end in TelmeCLITests).
@Suite struct RunReportTests {
    static func folder(records: [String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("telme-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"model": {"labels": ["joy", "anger"]}, "seed": 7}"#.utf8)
            .write(to: folder.appendingPathComponent("run.json"))
        try Data((records.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("annotations.jsonl"))
        return folder
    }

    @Test func recordsAreGroupedAndCounted() throws {
        let folder = try Self.folder(records: [
            #"{"dialogue": "d1", "speaker": "Ann", "label": "joy", "p_joy": 0.8, "p_anger": 0.2, "status": "ok", "text_status": "ok", "audio_status": "missing", "video_status": "missing"}"#,
            #"{"dialogue": "d1", "speaker": "Bob", "label": "anger", "gold": "fear", "status": "degraded"}"#,
            #"{"dialogue": "d2", "speaker": "Ann", "status": "failed"}"#,
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try RunReport(directory: folder, title: "t")
        // The model's classes, then a gold class it does not have.
        #expect(report.classes == ["joy", "anger", "fear"] && report.modelClasses == 2)
        #expect(report.speakers == ["Ann", "Bob"])
        #expect(report.dialogues.map(\.id) == ["d1", "d2"] && report.dialogues[0].utterances.count == 2)
        #expect(report.dialogues[0].utterances[0].permille == [800, 200])
        #expect(report.records == ["ok": 1, "degraded": 1, "failed": 1])
        #expect(report.overall.predicted == [1, 1, 0] && report.overall.gold == [0, 0, 1])
        #expect(report.media["audio"] == ["missing": 3])
        #expect(report.provenance.contains(["seed", "7"]))
    }

    @Test func speakersBeyondTheRowsAreOneRow() throws {
        let records = (0..<(RunReport.speakerRows + 2)).map { #"{"dialogue": "d", "speaker": "s\#($0)"}"# }
        let folder = try Self.folder(records: records)
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try RunReport(directory: folder)
        #expect(report.perSpeaker.count == RunReport.speakerRows + 1)
        #expect(report.perSpeaker.last?.name == "(2 others)" && report.perSpeaker.last?.utterances == 2)
    }

    @Test func recordTextCannotCloseTheScript() throws {
        let folder = try Self.folder(records: [#"{"dialogue": "d", "text": "</script><!-- & \u2028"}"#])
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = try RunReport(directory: folder).payloadJSON()
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&") && !json.contains("\u{2028}"))
        #expect(json.contains(#"\u003c\/script\u003e\u003c!-- \u0026 \u2028"#) || json.contains(#"\u003c/script\u003e\u003c!-- \u0026 \u2028"#))
        #expect(ReportPage.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}
