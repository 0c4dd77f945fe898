// PolicyFiles: what a learned policy version is on disk, in one directory: the whole ensemble state
// (members and AdamW moments, zlib-compressed) and its exact merge as a PEFT adapter directory.

import Foundation
import Learning

public struct PolicyFiles: Sendable {
    public static let stateFile = "ensemble.state.zlib"
    public static let adapterFile = "adapter_model.safetensors"
    public static let configFile = "adapter_config.json"

    public let state: [UInt8]
    public let adapter: [UInt8]
    public let config: [UInt8]

    /// The encoded files of `ensemble`; `baseModel` goes into adapter_config.json. `state`: the state file's
    /// bytes when they exist already (a version fetched from elsewhere is kept byte for byte).
    public init(_ ensemble: LoRAEnsemble, baseModel: String, state: [UInt8]? = nil) {
        self.state = state ?? EnsembleStateFile.encode(ensemble)
        (adapter, config) = PEFTAdapter.export(members: ensemble.members.map(\.parameters), baseModel: baseModel)
    }

    /// Writes the three files into `directory` (which must exist), each atomically.
    public func write(to directory: URL) throws(ModelFileError) {
        try writeFileAtomically(state, to: directory.appendingPathComponent(Self.stateFile).path)
        try writeFileAtomically(adapter, to: directory.appendingPathComponent(Self.adapterFile).path)
        try writeFileAtomically(config, to: directory.appendingPathComponent(Self.configFile).path)
    }
}
