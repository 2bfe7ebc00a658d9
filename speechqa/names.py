"""The closed vocabularies of speechqa, each spelled once: parties, channels, languages, the
stages a call's time is reported in, and the kinds of rows in the timeline table.

Every module takes these names from here, so a misspelt one is a NameError, not a silent miss.
"""

PARTIES = ("agent", "caller")            # the two parties of a call, in this order everywhere
CALL = "call"                            # the one "party" of a mono call that is not split
CHANNELS = ("left", "right")             # a stereo file's channels, in file order
AUTO = "auto"                            # found from the call: the agent's channel, or the language
AGENT_CHOICES = (*CHANNELS, AUTO)        # [measure] agent: a channel, or found from the call
LANGUAGES = ("ru", "en")                 # what the lexicons, the syllable counter and PII know
ASR_LANGUAGES = (AUTO, *LANGUAGES)       # [measure.asr] language: one of them, or detected

# The stages whose seconds a run reports (runs table: stage_<name>_s), in pipeline order.
STAGES = ("discover", "hash", "read", "quality", "vad", "crosstalk", "diarize", "asr", "loudness", "pitch",
          "timeline", "words", "score", "commit")

# Rows of the timeline table (`turns/`). Measured rows come from the audio under [measure] and
# carry measure_hash; derived rows come from them under [score] and carry score_hash.
SPEECH = "speech"              # a party's speech interval (VAD, bridged, crosstalk removed)
TURN = "turn"                  # a turn, with its measured level, F0, words and articulation rate
BACKCHANNEL = "backchannel"    # short speech inside the other party's turn, which goes on
LEVEL_PAIR = "level_pair"      # a caller turn answered by an agent turn, and their level difference
MEASURED_KINDS = (SPEECH, TURN, BACKCHANNEL, LEVEL_PAIR)
# Derived rows: speechqa.timeline's events under [score.timing].
SILENCE = "silence"            # dead air: nobody speaks for dead_air_s or more
OVERTALK = "overtalk"          # both parties speak at once for overtalk_episode_min_s or more
INTERRUPTION = "interruption"  # a party starts a turn while the other still speaks
PAUSE = "pause"                # a silent gap inside a party's own turn
DERIVED_KINDS = (SILENCE, OVERTALK, INTERRUPTION, PAUSE)
EVENT_KINDS = (*DERIVED_KINDS, BACKCHANNEL)
