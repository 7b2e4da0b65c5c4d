// Writes the `hex:` frame of every shared vector into a libFuzzer corpus directory per fuzz
// target (nw, ble, pb, decode; the 55 AA frames also to merger), the default configuration
// to config, and charge states to charge_state. Usage: fuzz_seeds VECTORS_DIR CORPUS_DIR
// [DEFAULT_YAML]. A missing vectors directory is not an error: those corpus directories are
// created empty.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "jkbms/util/hex.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        std::cerr << "usage: fuzz_seeds VECTORS_DIR CORPUS_DIR [DEFAULT_YAML]\n";
        return 2;
    }
    const fs::path corpus = argv[2];
    for (const char* t : {"nw", "ble", "pb", "decode", "config", "charge_state", "merger", "setvalue", "charge", "bank"})
        fs::create_directories(corpus / t);
    std::error_code copyError;
    if (argc == 4) fs::copy_file(argv[3], corpus / "config" / "default.yaml", fs::copy_options::overwrite_existing, copyError);
    // Charge states as the daemon writes them (the fuzz target's first bytes pick the clock
    // and an engine state; the rest is the text).
    const char* states[] = {"mode=Absorption\nabsorption_s=312.5\nabsorption_total_s=400\nequalize_at=1799913600\nfull_charge_at=1799996400\n",
                            "mode=Float;absorption_s=0;absorption_total_s=0;equalize_at=1700000000;",
                            "mode=Bulk\r\nabsorption_s=0\r\n"};
    int n = 0;
    for (const char* st : states) {
        std::ofstream out(corpus / "charge_state" / ("state" + std::to_string(n++)), std::ios::binary);
        out << std::string(40, '\x01') << st;
    }
    std::error_code ec;
    if (!fs::is_directory(argv[1], ec)) {
        std::cout << "no vectors in " << argv[1] << ": fuzzing from an empty corpus\n";
        return 0;
    }
    int written = 0;
    for (const auto& entry : fs::directory_iterator(argv[1])) {
        if (entry.path().extension() != ".yaml") continue;
        std::ifstream in(entry.path());
        std::string line, protocol, hex;
        while (std::getline(in, line)) {
            if (line.starts_with("protocol: ")) protocol = line.substr(10);
            if (line.starts_with("hex: ")) hex = line.substr(5);
        }
        auto bytes = jkbms::util::parseHex(hex);
        if (!bytes || bytes->empty()) continue;
        const char* target = protocol.starts_with("jk_nw") ? "nw" : protocol.starts_with("jk_ble") ? "ble" : "pb";
        const bool jkFrame = bytes->size() >= 4 && (*bytes)[0] == 0x55 && (*bytes)[1] == 0xAA;
        for (const char* dir : {target, "decode", jkFrame ? "merger" : ""}) {
            if (!*dir) continue;
            std::ofstream out(corpus / dir / entry.path().stem(), std::ios::binary);
            out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
        }
        ++written;
    }
    std::cout << "seeded " << written << " frames into " << corpus << '\n';
    return 0;
}
