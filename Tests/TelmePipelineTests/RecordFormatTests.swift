import Testing
@testable import TelmePipeline

@Suite struct RecordFormatTests {
    let labels = ["anger", "joy"]

    func record(text: String) -> AnnotationRecord {
        AnnotationRecord(source: "a.csv", transcript: "a.csv", cue: 4, line: 6, dialogue: "3", utterance: 1,
                         speaker: "Ross", start: 1.5, end: nil, text: text, label: "joy", confidence: 0.75,
                         probabilities: [0.25, 0.75], textProbabilities: [0.5, 0.5], textLabel: "joy", gold: "anger",
                         message: "")
    }

    @Test func csvHeaderListsEveryClass() {
        #expect(RecordFormat.csvHeader(labels: labels) ==
            "source,episode,transcript,cue,line,dialogue,utterance,speaker,start,end,text,label,confidence,p_anger,p_joy,text_label,audio_label,video_label,text_status,audio_status,video_status,gold,status,message\r\n")
        // Each model's own probabilities only when asked for (JSON records always hold them).
        #expect(RecordFormat.csvHeader(labels: labels, modalityProbabilities: true).hasSuffix(
            ",message,text_p_anger,text_p_joy,audio_p_anger,audio_p_joy,video_p_anger,video_p_joy\r\n"))
    }

    @Test func csvQuotesPerRFC4180() {
        let row = RecordFormat.csvRow(record(text: "Oh, \"really\"?\nYes"), labels: labels)
        #expect(row == "a.csv,,a.csv,4,6,3,1,Ross,1.5,,\"Oh, \"\"really\"\"?\nYes\",joy,0.75,0.25,0.75,joy,,,ok,missing,missing,anger,ok,\r\n")
    }

    @Test func plainTextIsNotQuoted() {
        let row = RecordFormat.csvRow(record(text: "Hi there"), labels: labels)
        #expect(row.contains(",Hi there,"))
    }

    @Test func jsonEscapesAndKeepsKeyOrder() {
        let json = RecordFormat.jsonObject(record(text: "tab\there \"q\" \\ \u{01} \u{92}"), labels: labels)
        #expect(json == #"{"source":"a.csv","episode":null,"transcript":"a.csv","cue":4,"line":6,"dialogue":"3","utterance":1,"speaker":"Ross","start":1.5,"end":null,"text":"tab\there \"q\" \\ \u0001 "# + "\u{92}" + #"","label":"joy","confidence":0.75,"p_anger":0.25,"p_joy":0.75,"text_label":"joy","audio_label":null,"video_label":null,"text_status":"ok","audio_status":"missing","video_status":"missing","gold":"anger","status":"ok","message":"","text_p_anger":0.5,"text_p_joy":0.5,"audio_p_anger":null,"audio_p_joy":null,"video_p_anger":null,"video_p_joy":null}"#)
    }

    @Test func nonFiniteNumbersAreAbsent() {
        var r = record(text: "x")
        r.confidence = .nan
        #expect(RecordFormat.jsonObject(r, labels: labels).contains(#""confidence":null"#))
    }
}

@Suite struct GroupFileNameTests {
    @Test(arguments: [("dia0", "dia0.json"), ("a/b", "a_b.json"), ("..", "_...json"), ("", "_.json"),
                      ("x\u{0}y\\z", "x_y_z.json"), ("Friends S01E01", "Friends S01E01.json")])
    func namesStayInsideTheFolder(group: String, file: String) {
        #expect(RunPlan.fileNames(for: [group]) == [file])
    }

    /// `json` document names stay inside `json/`.
    @Test(arguments: [
        ["../x", "/etc/passwd", "a\u{0}b", ".", "..", "", "x/../../y", "C:\\\\z", String(repeating: "é", count: 300)],
        ["A", "a", "a/b", "a_b", "a_b", "a_b~2"],
    ])
    func documentNamesAreSafeAndDistinct(groups: [String]) {
        let names = RunPlan.fileNames(for: groups)
        #expect(names.count == groups.count)
        #expect(Set(names.map { $0.lowercased() }).count == names.count, "\(names)")
        for name in names {
            #expect(!name.contains("/") && !name.contains("\\") && !name.contains("\u{0}") && !name.hasPrefix("."), "\(name)")
            #expect(name.utf8.count <= 210 && name.hasSuffix(".json"), "\(name)")
        }
    }
}
