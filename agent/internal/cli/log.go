package cli

import (
	"encoding/json"
	"time"

	"github.com/rs/zerolog"
)

// durationFields are the log fields that hold a duration (zerolog's Dur), printed with their unit.
var durationFields = []string{"took", "duration", "elapsed"}

// consoleLogger is the logger of the one-shot commands (plan, policy): plain text for people on stderr,
// no colour, warnings and errors only unless verbose (then debug and info too).
func consoleLogger(env Env, verbose bool) zerolog.Logger {
	w := zerolog.ConsoleWriter{
		Out:        env.Stderr,
		NoColor:    true,
		TimeFormat: "15:04:05",
		FormatPrepare: func(evt map[string]any) error {
			for _, k := range durationFields {
				if n, ok := evt[k].(json.Number); ok {
					if f, err := n.Float64(); err == nil {
						evt[k] = time.Duration(f * float64(zerolog.DurationFieldUnit)).Round(time.Millisecond).String()
					}
				}
			}
			return nil
		},
	}
	level := zerolog.WarnLevel
	if verbose {
		level = zerolog.DebugLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
