// Writes the `hex:` frame of every shared vector into a libFuzzer corpus directory per fuzz
// target (nw, ble, pb, decode). Usage: fuzz_seeds VECTORS_DIR CORPUS_DIR. A missing vectors
// directory is not an error: the corpus directories are created empty.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "jkbms/util/hex.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: fuzz_seeds VECTORS_DIR CORPUS_DIR\n";
        return 2;
    }
    const fs::path corpus = argv[2];
    for (const char* t : {"nw", "ble", "pb", "decode", "charge"}) fs::create_directories(corpus / t);
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
        for (const char* dir : {target, "decode"}) {
            std::ofstream out(corpus / dir / entry.path().stem(), std::ios::binary);
            out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
        }
        ++written;
    }
    std::cout << "seeded " << written << " frames into " << corpus << '\n';
    return 0;
}
