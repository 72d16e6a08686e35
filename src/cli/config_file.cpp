#include "cli/config_file.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace imagefit::cli {

namespace {

// Positional arguments by the name their command gives them (train's `data`, evaluate's `model`/`dir`).
bool is_positional_key(const std::string& key) {
  return key == "data" || key == "model" || key == "dir" || key == "paths";
}

std::string option_name(std::string key) {
  for (char& c : key)
    if (c == '_') c = '-';
  return key.size() == 1 ? "-" + key : "--" + key;
}

void add_item(std::vector<std::string>& positional, std::vector<std::string>& out, const std::string& key,
              const std::vector<std::string>& values, bool is_bool, bool bool_value) {
  if (is_positional_key(key)) {
    positional.insert(positional.end(), values.begin(), values.end());
    return;
  }
  if (is_bool) {
    if (bool_value) out.push_back(option_name(key));  // a flag: true gives it, false leaves it out
    return;
  }
  for (const auto& v : values) out.push_back(option_name(key) + "=" + v);
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::vector<std::string> config_file_arguments(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw UsageError("--config " + path + ": cannot read it (" + e.what() + ")");
  }
  std::vector<std::string> positional, out;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw UsageError("--config " + path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    for (const auto& [key, v] : j.items()) {
      if (v.is_boolean()) add_item(positional, out, key, {}, true, v.get<bool>());
      else if (v.is_string()) add_item(positional, out, key, {v.get<std::string>()}, false, false);
      else if (v.is_number()) add_item(positional, out, key, {v.dump()}, false, false);
      else if (v.is_array()) {
        std::vector<std::string> values;
        for (const auto& e : v) values.push_back(e.is_string() ? e.get<std::string>() : e.dump());
        add_item(positional, out, key, values, false, false);
      } else if (!v.is_null()) {
        throw UsageError("--config " + path + ": '" + key + "' must be a string, number, true/false or a list");
      }
    }
  } else {
    // TOML/INI "key = value" (CLI11's reader), or flat YAML "key: value" when no line has '='.
    bool yaml = false, any_equals = false;
    {
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) {
        const std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t[0] == ';' || t[0] == '[') continue;
        if (t.find('=') != std::string::npos) any_equals = true;
        else if (t.find(':') != std::string::npos) yaml = true;
      }
    }
    if (yaml && !any_equals) {
      std::istringstream in(text);
      int number = 0;
      for (std::string line; std::getline(in, line);) {
        ++number;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t == "---") continue;
        const size_t colon = t.find(':');
        if (colon == std::string::npos || line.find_first_not_of(' ') > 0)
          throw UsageError("--config " + path + ":" + std::to_string(number) +
                           ": expected 'key: value' (imagefit reads flat YAML: one option a line)");
        const std::string key = trim(t.substr(0, colon));
        std::string value = trim(t.substr(colon + 1));
        const size_t hash = value.find(" #");
        if (hash != std::string::npos && value[0] != '"' && value[0] != '\'') value = trim(value.substr(0, hash));
        value = unquote(value);
        if (value == "true" || value == "false") add_item(positional, out, key, {}, true, value == "true");
        else add_item(positional, out, key, {value}, false, false);
      }
    } else {
      std::vector<CLI::ConfigItem> items;
      try {
        std::istringstream in(text);
        items = CLI::ConfigTOML().from_config(in);
      } catch (const std::exception& e) {
        throw UsageError("--config " + path + ": " + e.what());
      }
      for (const auto& item : items) {
        if (item.name == "++" || item.name == "--") continue;  // section markers
        if (item.inputs.size() == 1 && (item.inputs[0] == "true" || item.inputs[0] == "false"))
          add_item(positional, out, item.name, {}, true, item.inputs[0] == "true");
        else
          add_item(positional, out, item.name, item.inputs, false, false);
      }
    }
  }
  positional.insert(positional.end(), out.begin(), out.end());
  return positional;
}

std::vector<std::string> expand_config_files(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  size_t command_end = 0;  // where the file's arguments go: right after the command's name
  for (const auto& a : args)
    if (!a.empty() && a[0] != '-') {
      if (a == "info") return args;  // `info --config MODEL` prints a model's config instead
      break;
    }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string path;
    if (a == "--config") {
      if (i + 1 >= args.size()) throw UsageError("--config needs a file");
      path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      path = a.substr(9);
    } else {
      out.push_back(a);
      if (command_end == 0 && !a.empty() && a[0] != '-') command_end = out.size();
      continue;
    }
    if (command_end == 0) throw UsageError("--config goes after the command: imagefit train --config " + path);
    const auto file_args = config_file_arguments(path);
    out.insert(out.begin() + long(command_end), file_args.begin(), file_args.end());
    command_end += file_args.size();
  }
  return out;
}

}  // namespace imagefit::cli
