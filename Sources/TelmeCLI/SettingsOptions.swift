import ArgumentParser
import TelmeFormat
import TelmeModels

/// The model settings a command can set: `annotate` for one run, `convert` to store them in
/// the model. Unset, each is the model's (for `convert`: the authors' value for the dataset).
struct SettingsOptions: ParsableArguments {
    @Option(help: "Speaker numbering: official (the authors') or dialogue. Default: the model's setting.")
    var speakerNumbering: Settings.SpeakerNumbering?

    @Option(help: "Order of the students in the fusion: audio-video or video-audio. Default: the model's setting.")
    var fusionOrder: Settings.FusionOrder?

    @Option(help: "Channel order of video frames: bgr or rgb. Default: the model's setting.")
    var channelOrder: Settings.ChannelOrder?

    @Option(help: "Audio sample rate in Hz. Default: the model's setting.")
    var sampleRate: Int?

    @Option(help: "ASF attention heads. Default: the model's (convert: MELD 3, IEMOCAP 4).")
    var fusionHeads: Int?

    @Option(help: "ASF beta_shift. Default: the model's (convert: MELD 0.1, IEMOCAP 0.2).")
    var betaShift: Double?

    func validate() throws {
        if let sampleRate, !ModelDescriptionCheck.sampleRates.contains(sampleRate) {
            throw ValidationError("--sample-rate must be between \(ModelDescriptionCheck.sampleRates.lowerBound) and "
                                  + "\(ModelDescriptionCheck.sampleRates.upperBound) Hz")
        }
        if let fusionHeads, fusionHeads < 1 { throw ValidationError("--fusion-heads must be at least 1") }
        if let betaShift, !betaShift.isFinite { throw ValidationError("--beta-shift must be a number") }
    }

    /// `settings` with the options given.
    func applied(to settings: Settings) -> Settings {
        var s = settings
        if let speakerNumbering { s.speakerNumbering = speakerNumbering }
        if let fusionOrder { s.fusionOrder = fusionOrder }
        if let channelOrder { s.channelOrder = channelOrder }
        if let sampleRate { s.sampleRate = sampleRate }
        return s
    }
}

extension Settings.SpeakerNumbering: ExpressibleByArgument {}
extension Settings.FusionOrder: ExpressibleByArgument {}
extension Settings.ChannelOrder: ExpressibleByArgument {}
