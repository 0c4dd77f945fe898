// SIMDWidening: byte-to-float conversions written lane by lane, which LLVM turns into single
// vpmovzxbd/vpmovsxbd + vcvtdq2ps instructions (the generic SIMD conversions compile to calls).

@inline(__always) func widenUnsigned(_ q: SIMD16<UInt8>) -> SIMD16<Float> {
    SIMD16<Int32>(
        Int32(q[0]), Int32(q[1]), Int32(q[2]), Int32(q[3]), Int32(q[4]), Int32(q[5]), Int32(q[6]), Int32(q[7]),
        Int32(q[8]), Int32(q[9]), Int32(q[10]), Int32(q[11]), Int32(q[12]), Int32(q[13]), Int32(q[14]), Int32(q[15])).floats
}

@inline(__always) func widenSigned(_ q: SIMD16<Int8>) -> SIMD16<Float> {
    SIMD16<Int32>(
        Int32(q[0]), Int32(q[1]), Int32(q[2]), Int32(q[3]), Int32(q[4]), Int32(q[5]), Int32(q[6]), Int32(q[7]),
        Int32(q[8]), Int32(q[9]), Int32(q[10]), Int32(q[11]), Int32(q[12]), Int32(q[13]), Int32(q[14]), Int32(q[15])).floats
}

extension SIMD16 where Scalar == Int32 {
    /// Lane-wise conversion to Float, spelled out so that it compiles to one vcvtdq2ps.
    @inline(__always) var floats: SIMD16<Float> {
        SIMD16<Float>(Float(self[0]), Float(self[1]), Float(self[2]), Float(self[3]), Float(self[4]), Float(self[5]),
                      Float(self[6]), Float(self[7]), Float(self[8]), Float(self[9]), Float(self[10]), Float(self[11]),
                      Float(self[12]), Float(self[13]), Float(self[14]), Float(self[15]))
    }
}
