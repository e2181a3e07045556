// The widget's call UI, loaded only when a call starts (keeps widget.js small). It
// registers itself on a private global the widget reads once the script has loaded.
import { CallSession, callSupportProblem } from '../../shared/call';

(window as unknown as { __vitrineCall: unknown }).__vitrineCall = { CallSession, callSupportProblem };
