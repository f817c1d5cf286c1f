/// Kasthuri++: mouse-cortex mitochondria relabelled by Casser et al. ("85 large images" for
/// training per the reference); masks are three-channel 0/255 with non-zero padding, binarised to
/// 0/1 from channel 0 as the reference does.
enum Kasthuri {
    static func convert(_ c: Conversion) throws { try CasserBenchmark.convert(c, archive: "kasthuri_pp/kasthuri_pp.zip") }
}
